"""The scan engine runs on appliances that have no database: it and the ground
floor it stands on (``core``) must start without Django or any app package."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "networks", "assets", "scans", "reports", "config")

# Imports the engine and core, runs a real one-port slice on loopback (so
# imports done inside functions count too), and prints what got loaded.
PROBE = """
import json, sys
import core.iprange, core.results
import scans.engine.runner, scans.engine.checks, scans.engine.kb
from core.results import SliceSpec
if sys.argv[1] == "run":
    spec = SliceSpec(scan_id=1, slice_id=1, scan_type="vulnerability",
                     targets=["127.0.0.1"], tcp_ports="9", service_detection=False,
                     host_timeout=30)
    result = scans.engine.runner.run_slice(spec, appliance="probe")
    assert result.addresses_probed == 1, result
print(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(mode: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        # No DJANGO_SETTINGS_MODULE: an appliance's engine must not need one.
        env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def foreign(modules: list[str]) -> list[str]:
    """Modules of Django, DRF, Celery or an app package, except the engine itself
    (``scans`` is only its empty namespace)."""
    frameworks = ("django", "rest_framework", "celery", "kombu")

    def is_engine(name: str) -> bool:
        return name == "scans" or name.startswith("scans.engine")

    return [
        name
        for name in modules
        if name.split(".")[0] in frameworks or (name.split(".")[0] in APPS and not is_engine(name))
    ]


def test_engine_imports_load_no_django_and_no_app():
    modules = loaded_modules("import")
    assert "scans.engine.runner" in modules
    assert foreign(modules) == []


@pytest.mark.skipif(not shutil.which("nmap"), reason="nmap is not installed")
def test_engine_running_a_slice_loads_no_django_and_no_app():
    assert foreign(loaded_modules("run")) == []


def test_the_scans_package_itself_is_empty():
    """Importing scans.engine runs scans/__init__.py: it must stay free of imports."""
    assert (ROOT / "scans" / "__init__.py").read_text().strip() == ""
