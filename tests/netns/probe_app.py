"""A tiny Celery app (no Django) to prove that a worker inside a namespace gets tasks.

Started by the lab inside a scanner namespace::

    ip netns exec encl_a_s1 python -m celery -A tests.netns.probe_app worker -Q probe.a

with ``PROBE_BROKER_URL=redis+socket:///.../redis.sock``. Its task answers
from where the worker runs: which network namespace, and what the service at
an address of that namespace's network says.
"""

import os
import socket

from celery import Celery

broker = os.environ.get("PROBE_BROKER_URL", "memory://")
app = Celery("netns_probe", broker=broker, backend=broker)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)


@app.task(name="netns_probe.look")
def look(ip: str, port: int, send: str = "") -> dict:
    """The worker's network namespace and the first bytes a service at ip:port answers."""
    with socket.create_connection((ip, port), timeout=5) as conn:
        if send:
            conn.sendall(send.encode())
        data = conn.recv(300)
    return {
        "netns": os.stat("/proc/self/ns/net").st_ino,
        "hostname_ip": ip,
        "banner": data.decode(errors="replace"),
    }
