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
from .netlab.system import stop_all


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
    stop_all(mine)
    report = getattr(request.node, "netns_report_call", None)
    if report is not None and report.failed:
        print(f"\n===== logs of the processes this test started (work folder {netlab.workdir})")
        for proc in mine:
            print(f"----- {proc.name} (exit {proc.popen.returncode})\n{proc.output(6000)}")
    # Back to the long-lived processes: the hosts' services.
    del netlab.procs[started:]


@pytest.fixture
def stack(lab, transactional_db, settings, api_as):
    """The Enclave platform around the lab: central worker and scheduler running,
    this process's Celery app sending to the lab's broker, a Manager's API client.
    Appliances are started by the test (``stack.appliance(...)``)."""
    from .stack import (
        HEARTBEAT_INTERVAL,
        OFFLINE_AFTER,
        Stack,
        broker_for_this_process,
        database_url,
    )

    settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER = OFFLINE_AFTER
    settings.ENCLAVE_HEARTBEAT_INTERVAL = HEARTBEAT_INTERVAL
    with broker_for_this_process(lab.broker.url):
        platform = Stack(lab=lab, api=api_as("manager"), db_url=database_url())
        try:
            platform.start_central()
            yield platform
        finally:
            # Before the database is flushed: nothing may write to it afterwards.
            stop_all([*platform.appliances.values(), *platform.central], timeout=1.5)
