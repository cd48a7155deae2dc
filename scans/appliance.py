"""The appliance's side of the platform: its name, heartbeats, busy count.

This runs inside ``manage.py run_appliance NAME``, possibly in an isolated
network that cannot reach the database: nothing here (nor in the run_slice
task or the engine) touches the ORM. The broker is the only link back.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager

from celery import current_app
from django.conf import settings

logger = logging.getLogger(__name__)

HEARTBEAT_TASK = "networks.tasks.appliance_heartbeat"


class ApplianceState:
    """What this process is: one appliance, running some slices right now."""

    def __init__(self) -> None:
        self.name = ""
        self.version = ""
        self.nmap_version = ""
        self._running = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def slice_running(self):
        with self._lock:
            self._running += 1
        self.heartbeat()  # busy now
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
            self.heartbeat()

    def heartbeat(self) -> None:
        """Sends one heartbeat to the platform (routed to the "ingest" queue by
        CELERY_TASK_ROUTES); best effort."""
        if not self.name:
            return
        try:
            current_app.send_task(
                HEARTBEAT_TASK,
                kwargs={
                    "name": self.name,
                    "version": self.version,
                    "nmap_version": self.nmap_version,
                    "running_slices": self._running,
                },
            )
        except Exception:  # the broker may be briefly away; the next beat retries
            logger.exception("Heartbeat of appliance %s not sent", self.name)

    def start(self, *, name: str, version: str, nmap_version: str) -> None:
        self.name, self.version, self.nmap_version = name, version, nmap_version
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _beat(self) -> None:
        interval = max(0.2, float(settings.ENCLAVE_HEARTBEAT_INTERVAL))
        while not self._stop.is_set():
            self.heartbeat()
            self._stop.wait(interval)


STATE = ApplianceState()


class ProgressReporter:
    """Sends a slice's progress to the platform, at most every ``every`` seconds."""

    def __init__(self, *, scan_id: int, slice_id: int, every: float = 1.0) -> None:
        self.scan_id, self.slice_id, self.every = scan_id, slice_id, every
        self._last = 0.0
        self._last_done = -1

    def __call__(self, done: int, total: int = 0, *args, **kwargs) -> None:
        now = time.monotonic()
        final = bool(total) and done >= total
        if done == self._last_done or (now - self._last < self.every and not final):
            return
        self._last, self._last_done = now, done
        from scans.tasks import slice_progress

        try:
            slice_progress.apply_async(
                kwargs={
                    "slice_id": self.slice_id,
                    "appliance": STATE.name,
                    "done": int(done),
                    "total": int(total or 0),
                },
            )
        except Exception:  # progress is cosmetic; never fail a scan for it
            logger.exception("Progress of slice %s not sent", self.slice_id)
