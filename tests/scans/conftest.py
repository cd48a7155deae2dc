from datetime import timedelta

import pytest
from django.utils import timezone

from tests.brokers import celery_broker
from tests.factories import ApplianceFactory, NetworkFactory, VulnerabilityFactory


@pytest.fixture
def lab(db):
    """A custom network whose address space is loopback (the only place tests scan)."""
    return NetworkFactory(name="Lab", space="127.0.0.0/8")


@pytest.fixture
def online(lab):
    """Makes an online appliance of a network (the lab by default)."""

    def make(name, network=None, running=0):
        return ApplianceFactory(
            name=name, network=network or lab, last_seen=timezone.now(), running_slices=running
        )

    return make


@pytest.fixture
def listening(db):
    """The platform has checked its appliances without a break for an hour, so
    ``slices_reassign`` judges their heartbeats now (after its first check of
    all, or a break, it waits a whole offline limit first)."""
    from scans.models import FailoverWatch

    now = timezone.now()
    return FailoverWatch.objects.create(
        pk=1, checked_at=now, listening_since=now - timedelta(hours=1)
    )


@pytest.fixture
def sent(monkeypatch):
    """Records run_slice messages instead of sending them: (queue, spec, task_id)."""
    from celery import current_app

    from scans import tasks

    calls = []

    def record(args=None, kwargs=None, queue=None, task_id=None, **options):
        calls.append({"queue": queue, "spec": args[0], "task_id": task_id})

    monkeypatch.setattr(tasks.run_slice, "apply_async", record)
    monkeypatch.setattr(
        current_app.control, "revoke", lambda ids, **options: calls.append({"revoke": ids})
    )
    return calls


@pytest.fixture
def kb(db):
    """Two QIDs of a "tls" check and one of an "http" check."""
    return {
        "cert": VulnerabilityFactory(qid=938001, severity=2, check_name="tls"),
        "proto": VulnerabilityFactory(qid=938002, severity=3, check_name="tls"),
        "header": VulnerabilityFactory(qid=986001, severity=1, check_name="http"),
    }


# --- Real processes: a private broker, the central ingest worker, appliances ------------

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker(tmp_path):
    """A broker of this test's own: a temporary folder (filesystem transport), or
    Redis database 3 under a unique key prefix when CELERY_BROKER_URL is Redis.

    Points this process's Celery app at it and returns the environment that
    sends subprocesses there too.
    """
    url = os.environ.get("CELERY_BROKER_URL", "filesystem://")
    if url.startswith("redis"):
        base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
        url = f"{base}/3"
        prefix = f"enclave-test-{uuid.uuid4().hex[:8]}:"
        options = {"visibility_timeout": 3600, "global_keyprefix": prefix}
        env = {"CELERY_BROKER_URL": url, "ENCLAVE_BROKER_PREFIX": prefix}
    else:
        folder = tmp_path / "broker"
        for sub in ("in", "processed", "control"):
            (folder / sub).mkdir(parents=True)
        options = {
            "data_folder_in": str(folder / "in"),
            "data_folder_out": str(folder / "in"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.05,
        }
        env = {
            "CELERY_BROKER_URL": "filesystem://",
            "ENCLAVE_BROKER_DIR": str(folder),
            "ENCLAVE_BROKER_POLL": "0.05",
        }
    with celery_broker(url, options):
        yield env


@pytest.fixture
def ingest_worker(broker, transactional_db):
    """The central worker (queues "ingest" and "central") in a thread of this process."""
    from celery.contrib.testing.worker import start_worker
    from django.db import connections

    from config.celery import app

    with start_worker(
        app,
        pool="solo",
        perform_ping_check=False,
        queues=["ingest", "central"],
        loglevel="WARNING",
        shutdown_timeout=20,
    ) as worker:
        yield worker
    connections.close_all()


@pytest.fixture
def appliance_process(broker, tmp_path):
    """Starts ``manage.py run_appliance NAME`` as a real subprocess.

    Its database settings point nowhere: an ORM call would fail, so a passing
    test shows the appliance never touches the database.
    """
    started = []

    def start(name: str, *, heartbeat: int = 1):
        env = {
            **os.environ,
            **broker,
            "DATABASE_URL": "sqlite:////nonexistent/enclave-appliance-has-no-database.sqlite3",
            "ENCLAVE_HEARTBEAT_INTERVAL": str(heartbeat),
            "PYTHONUNBUFFERED": "1",
        }
        log = open(tmp_path / f"appliance-{name}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_appliance", name, "--loglevel", "WARNING"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc.log_path = tmp_path / f"appliance-{name}.log"
        started.append((proc, log))
        return proc

    yield start
    for proc, log in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
