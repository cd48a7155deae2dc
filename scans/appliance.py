"""The appliance's side of the platform: its name, heartbeats, busy count.

This runs inside ``manage.py run_appliance NAME``, possibly in an isolated
network that cannot reach the database: nothing here (nor in the run_slice
task or the engine) touches the ORM. The broker is the only link back.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import contextmanager

from celery import current_app
from django.conf import settings

from core.results import SliceProgress

logger = logging.getLogger(__name__)

HEARTBEAT_TASK = "networks.tasks.appliance_heartbeat"


class ApplianceState:
    """What this process is: one appliance, running some slices right now.

    Its heartbeats say which slices it holds (by task id): the ones it runs,
    and for ``FINISHED_SAID_FOR`` seconds the ones it has just answered,
    whose result may still wait for ingest. The platform takes back a slice
    that an appliance, alive, no longer holds: one this appliance's previous
    process was running when it died, whose message the broker gives back
    only after its visibility timeout, hours later
    (``scans.services.failover``). Each task id runs once per process: a
    message delivered again (that timeout again, after a broker outage) is
    dropped rather than scanned a second time.
    """

    FINISHED_SAID_FOR = 60.0
    # Longer than the broker's visibility timeout (4 h, config.settings).
    FINISHED_KEPT_FOR = 24 * 3600.0

    def __init__(self) -> None:
        self.name = ""
        self.version = ""
        self.nmap_version = ""
        # A new id per process: the platform tells a restart from a late heartbeat.
        self.process = uuid.uuid4().hex
        self.slots = 0  # slices it runs at once (run_appliance --concurrency)
        self._heartbeats = 0
        self._running: set[str] = set()
        self._finished: dict[str, float] = {}  # task id -> time.monotonic() it ended
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def slice_running(self, task_id: str):
        """Holds the slice of ``task_id`` while it runs; yields False, and holds
        nothing, when this process already runs or ran it (a redelivery)."""
        with self._lock:
            fresh = task_id not in self._running and task_id not in self._finished
            if fresh:
                self._running.add(task_id)
        if not fresh:
            yield False
            return
        self.heartbeat()  # busy now
        try:
            yield True
        finally:
            with self._lock:
                self._running.discard(task_id)
                now, kept_for = time.monotonic(), self.FINISHED_KEPT_FOR
                for old in [t for t, at in self._finished.items() if now - at > kept_for]:
                    del self._finished[old]
                self._finished[task_id] = now
            self.heartbeat()

    def heartbeat(self) -> None:
        """Sends one heartbeat to the platform (routed to the "ingest" queue by
        CELERY_TASK_ROUTES); best effort. It holds the slices running and
        those answered in the last ``FINISHED_SAID_FOR`` seconds, numbered
        under the same lock: a later number never says something older."""
        if not self.name:
            return
        now = time.monotonic()
        with self._lock:
            recent = {t for t, at in self._finished.items() if now - at <= self.FINISHED_SAID_FOR}
            held = sorted(self._running | recent)
            running = len(self._running)
            self._heartbeats += 1
            number = self._heartbeats
        try:
            current_app.send_task(
                HEARTBEAT_TASK,
                kwargs={
                    "name": self.name,
                    "version": self.version,
                    "nmap_version": self.nmap_version,
                    "running_slices": running,
                    "slices": held,
                    "slots": self.slots,
                    "process": self.process,
                    "number": number,
                },
            )
        except Exception:  # the broker may be briefly away; the next beat retries
            logger.exception("Heartbeat of appliance %s not sent", self.name)

    def start(self, *, name: str, version: str, nmap_version: str, slots: int = 0) -> None:
        self.name, self.version, self.nmap_version = name, version, nmap_version
        self.slots = slots
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
    """Sends a slice's progress to the platform: at most one message every
    ``every`` seconds, and never sits on the latest news.

    The engine reports every phase, every host finished and nmap's own progress
    (see scans.engine.runner); most of those arrive within a second of each
    other. The first report goes at once; one arriving sooner than ``every``
    after the last message is held, and a timer sends the latest held report
    when the interval is up, so the platform sees each phase change within
    about ``every`` seconds without a message per host.
    """

    def __init__(self, *, scan_id: int, slice_id: int, every: float = 1.0, send=None) -> None:
        self.scan_id, self.slice_id, self.every = scan_id, slice_id, every
        self._send = send or _send_progress
        self._lock = threading.Lock()
        self._last_sent = float("-inf")
        self._sent: SliceProgress | None = None
        self._held: SliceProgress | None = None
        self._timer: threading.Timer | None = None
        self._closed = False

    def __call__(self, update: SliceProgress) -> None:
        with self._lock:
            if self._closed or update == self._sent:
                return
            wait = self._last_sent + self.every - time.monotonic()
            if wait > 0:
                self._held = update
                if self._timer is None:
                    self._timer = threading.Timer(wait, self._flush)
                    self._timer.daemon = True
                    self._timer.start()
                return
            self._mark_sent(update)
        self._deliver(update)

    def close(self) -> None:
        """No more reports: a held one is dropped (the slice's result says more)."""
        with self._lock:
            self._closed = True
            self._held = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
            update, self._held = self._held, None
            if update is None or self._closed or update == self._sent:
                return
            self._mark_sent(update)
        self._deliver(update)

    def _mark_sent(self, update: SliceProgress) -> None:
        self._sent, self._last_sent = update, time.monotonic()

    def _deliver(self, update: SliceProgress) -> None:
        try:
            self._send(slice_id=self.slice_id, appliance=STATE.name, update=update)
        except Exception:  # progress is cosmetic; never fail a scan for it
            logger.exception("Progress of slice %s not sent", self.slice_id)


def _send_progress(*, slice_id: int, appliance: str, update: SliceProgress) -> None:
    """One scans.tasks.slice_progress message (routed to "ingest" by CELERY_TASK_ROUTES)."""
    from scans.tasks import slice_progress

    slice_progress.apply_async(
        kwargs={
            "slice_id": slice_id,
            "appliance": appliance,
            "done": int(update.done),
            "total": int(update.total),
            "phase": update.phase,
            "percent": int(update.percent),
        },
    )
