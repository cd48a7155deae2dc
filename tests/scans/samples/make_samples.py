"""Regenerates the nmap XML samples the parser tests read: real nmap against
the test servers on 127.0.0.1 (run from the repository root):

    .venv/bin/python -m tests.scans.samples.make_samples

Ports differ on every run; the tests read ports from a sidecar JSON file.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from tests.scans import test_engine_servers as servers

HERE = Path(__file__).parent


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    now = datetime.now(UTC)
    cert, key = servers.make_certificate(
        tmp, not_before=now - timedelta(days=400), not_after=now - timedelta(days=35)
    )
    https = servers._TLSHTTPServer((servers.LOOPBACK, 0), servers.http_handler(tmp))
    https.context = servers.weak_server_context(cert, key)
    running = {
        "http": servers._serve(
            servers.QuietHTTPServer((servers.LOOPBACK, 0), servers.http_handler(tmp))
        ),
        "https": servers._serve(https),
        "ssh": servers.tcp_server(partial(servers._ssh_session, algorithms=servers.SSH_ALGORITHMS)),
        "ftp": servers.tcp_server(servers._ftp_session),
        "telnet": servers.tcp_server(servers._telnet_session),
    }
    ports = {name: next(gen) for name, gen in running.items()}
    ports["redis"] = 6379
    closed = servers.free_port()
    spec = ",".join(str(p) for p in [*ports.values(), closed])
    services = subprocess.run(
        ["nmap", "-n", "-Pn", "-sT", "-sV", "-oX", "-", "-p", spec, "127.0.0.1"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (HERE / "nmap_services.xml").write_text(services)
    discovery = subprocess.run(
        ["nmap", "-n", "-sn", "-oX", "-", "127.0.0.1-3"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (HERE / "nmap_discovery.xml").write_text(discovery)
    (HERE / "nmap_services.json").write_text(
        json.dumps({"ports": ports, "closed": closed}, indent=2) + "\n"
    )
    for gen in running.values():
        gen.close()


if __name__ == "__main__":
    main()
