"""Fixtures for tests on real overlapping networks (Linux network namespaces, root only).

* ``netlab`` (session): the standard lab of ``netlab.standard_networks()``,
  built once, always torn down.
* ``lab`` (per test): the same lab with a fresh private Redis broker; stops
  every process the test started and prints their logs when the test failed.

Not root: every test here is skipped, saying why. Under ``CI=true`` the
same condition fails the tests instead, so CI cannot go green without them.
"""

import os

import pytest

from .netlab import NetLab, standard_networks, unavailable_reason


def require_netns() -> None:
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true, so the network-namespace tests must run", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"netns_report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _netns_capable():
    require_netns()


@pytest.fixture(scope="session")
def netlab():
    require_netns()
    with NetLab(standard_networks()) as lab:
        yield lab


@pytest.fixture
def lab(netlab, request):
    """The session's lab with a fresh, empty broker; cleans up after the test."""
    started = len(netlab.procs)
    netlab.start_broker()
    yield netlab
    mine = netlab.procs[started:]
    for proc in reversed(mine):
        proc.stop(timeout=3)
    report = getattr(request.node, "netns_report_call", None)
    if report is not None and report.failed:
        print(f"\n===== logs of the processes this test started (work folder {netlab.workdir})")
        for proc in mine:
            print(f"----- {proc.name} (exit {proc.popen.returncode})\n{proc.output(6000)}")
    # Back to the long-lived processes: the hosts' services.
    del netlab.procs[started:]
