"""Two appliances in one network, "All Scanners in Network", and crashes.

The appliances are real ``run_appliance`` processes inside network "a"'s two
scanner machines; "crash" is SIGKILL to an appliance and everything it
started (its nmap too), in the middle of its slice.
"""

import os
import signal
import time

import pytest

from scans.models import ScanHost, ScanSlice
from tests.waiting import wait_for

from .stack import OFFLINE_AFTER

pytestmark = [
    pytest.mark.netns,
    pytest.mark.xdist_group("netns"),
    pytest.mark.django_db(transaction=True),
]

TARGETS = "10.77.0.5-10.77.0.8"
HOSTS = {f"10.77.0.{n}" for n in (5, 6, 7, 8)}


def _network_with_two_appliances(stack):
    net = stack.network("Plant A")
    stack.appliance("netns-a1", net, "a", scanner=1)
    stack.appliance("netns-a2", net, "a", scanner=2)
    stack.wait_online("netns-a1", "netns-a2")
    return net


def _kill_mid_slice(stack, name: str) -> None:
    wait_for(lambda: stack.scanning(name), timeout=30, what=f"{name} to run nmap", every=0.05)
    stack.appliances[name].kill9()


def test_killed_appliance_hands_its_slice_to_the_other_and_the_scan_finishes(stack):
    net = _network_with_two_appliances(stack)
    profile = stack.option_profile()

    scan_id = stack.launch("Both scanners", net, TARGETS, profile)
    slices = {s.number: s for s in ScanSlice.objects.filter(scan_id=scan_id)}
    assert {s.appliance.name for s in slices.values()} == {"netns-a1", "netns-a2"}
    assert sum(s.addresses for s in slices.values()) == 4  # targets split across both
    _kill_mid_slice(stack, "netns-a1")

    done = stack.wait_done(scan_id, timeout=120)
    assert done["status"] == "finished", done
    assert done["hosts_found"] == 4
    moved = ScanSlice.objects.get(scan_id=scan_id, appliance__name="netns-a2", attempts=2)
    assert moved.ingested_from == "netns-a2"

    hosts = stack.all_pages(f"/api/v1/hosts/?network={net}&page_size=100")
    assert {h["ip"] for h in hosts} == HOSTS
    assert ScanHost.objects.filter(scan_id=scan_id).count() == 4
    detections = stack.detections(network=net)
    keys = [(d["ip"], d["qid"], d["port"], d["protocol"]) for d in detections]
    assert len(keys) == len(set(keys))  # no duplicate detections
    assert {d["ip"] for d in detections} == HOSTS
    assert {d["times_found"] for d in detections} == {1}  # no slice ingested twice


GIVE_UP_WAIT = 12  # seconds after the last appliance of the network died


def test_with_every_appliance_dead_the_scan_errors_keeps_partial_results_and_borrows_nothing(
    stack,
):
    net = _network_with_two_appliances(stack)
    other = stack.network("Plant B")  # same subnet, its appliance alive throughout
    stack.appliance("netns-b1", other, "b")
    stack.wait_online("netns-b1")
    profile = stack.option_profile()

    scan_id = stack.launch("Both scanners, then none", net, TARGETS, profile)
    _kill_mid_slice(stack, "netns-a2")
    first = ScanSlice.objects.get(scan_id=scan_id, number=1)
    wait_for(
        lambda: ScanSlice.objects.filter(pk=first.pk, ingested_at__isnull=False).exists(),
        timeout=60,
        what="netns-a1 to finish its own slice",
    )
    stack.appliances["netns-a1"].kill9()
    stack.wait_offline("netns-a1", "netns-a2")

    # Never another network's appliance: Plant B's is online the whole time.
    def borrowed():
        return ScanSlice.objects.filter(scan_id=scan_id, appliance__network_id=other).exists()

    try:
        done = wait_for(
            lambda: borrowed() or ((b := stack.scan(scan_id))["status"] in ("error",) and b),
            timeout=GIVE_UP_WAIT,
            what="the scan to end in error",
        )
    except AssertionError:
        done = stack.scan(scan_id)
    assert not borrowed()
    assert "Task scans.tasks.run_slice[" not in stack.appliances["netns-b1"].output(100_000)
    assert not stack.all_pages(f"/api/v1/hosts/?network={other}")

    # The first slice's results are kept.
    kept = {h["ip"] for h in stack.all_pages(f"/api/v1/hosts/?network={net}")}
    assert kept == {"10.77.0.5", "10.77.0.6"}, kept
    services = ScanHost.objects.get(scan_id=scan_id, host__ip="10.77.0.5").services
    assert {s["port"] for s in services} == {80}  # network a's machine, not b's
    assert stack.detections(network=net)

    assert done["status"] == "error", done
    reason = done["status_reason"].lower()
    assert "appliance" in reason and ("offline" in reason or "no " in reason), reason


def test_a_stalled_central_worker_takes_no_slice_from_a_live_appliance(stack):
    """The central worker stands still for four times the offline limit (an
    overloaded host, a paused VM) while the appliance scans on and the beat
    queues a failover check every second. When it resumes, checks wait in the
    queue beside the heartbeats that show the appliance alive; judged by the
    last heartbeat it had heard, the appliance looked dead, and its slice was
    taken back (with no other appliance, the scan ended in error)."""
    _, _, scan_id = stack.scanning_alone("Through a stall")

    worker = next(p for p in stack.central if p.name.startswith("central_worker"))
    os.killpg(worker.pid, signal.SIGSTOP)
    try:
        time.sleep(4 * OFFLINE_AFTER)
    finally:
        os.killpg(worker.pid, signal.SIGCONT)

    done = stack.wait_done(scan_id, timeout=60)
    assert done["status"] == "finished", (done, stack.logs())
    piece = ScanSlice.objects.get(scan_id=scan_id)
    assert (piece.attempts, piece.ingested_from) == (1, "netns-a1")


def test_an_appliance_restarted_mid_slice_scans_its_slice_again(stack):
    """SIGKILL mid-slice and a restart (a crash, an upgrade) of the appliance
    a scan names. The broker keeps the slice's message unacknowledged until
    its visibility timeout (4 h), so the scan stood still for hours after the
    appliance came back. Its new process holds nothing: the slice goes out
    again, to it, and the scan finishes."""
    net = stack.network("Plant A")
    appliance = stack.appliance("netns-a1", net, "a")
    stack.wait_online("netns-a1")
    scan_id = stack.launch("Named, restarted", net, "10.77.0.5", stack.option_profile(), appliance)
    first = wait_for(
        lambda: ScanSlice.objects.filter(scan_id=scan_id, status="running").first(),
        timeout=30,
        what="the slice's first report",
    )
    _kill_mid_slice(stack, "netns-a1")

    stack.start_appliance("netns-a1", "a")
    done = stack.wait_done(scan_id, timeout=90)
    assert done["status"] == "finished", (done, stack.logs())
    piece = ScanSlice.objects.get(scan_id=scan_id)
    assert (piece.attempts, piece.ingested_from) == (2, "netns-a1")
    assert piece.task_id != first.task_id
    assert {d["ip"] for d in stack.detections(network=net)} == {"10.77.0.5"}
