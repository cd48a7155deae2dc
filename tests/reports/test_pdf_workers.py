"""PDF worker processes end with the process that started their pool, however
it ends: a Celery worker killed mid-report leaves no renderer behind."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Starts a report's pool of two workers through pdf_report._Parts (two parts:
# the second starts the pool), prints the pids of the workers and of the fork
# server, then waits to be killed.
OWNER = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_test"
if __name__ == "__main__":
    import django
    django.setup()
    from multiprocessing import forkserver
    from reports.renderers.pdf_report import _Parts
    parts = _Parts(Path({workdir!r}), "", workers=2)
    for n in range(2):
        list(parts.add(f"<p>part {{n}}</p>"))
    list(parts.drain())
    workers = list(parts.pool._processes)
    print(" ".join(map(str, [forkserver._forkserver._forkserver_pid, *workers])), flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone too (its parent, the fork server, may not have reaped it yet).
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_workers_and_fork_server_exit_when_the_owner_is_killed(tmp_path):
    script = tmp_path / "owner.py"
    script.write_text(OWNER.format(root=str(ROOT), workdir=str(tmp_path)))
    owner = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    pids = []
    try:
        line = owner.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 3, f"the owner printed {line!r}"
        assert all(_alive(pid) for pid in pids)
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in pids if _alive(pid)] == []
    finally:
        owner.kill()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
