"""The broker goes away in the middle of a scan, and the ingest race.

* Redis is stopped and started again (empty: the lab's Redis keeps nothing)
  while an appliance runs its slice: the scan must still complete, or end
  with a clear error; no finding may be lost or counted twice.
* Two scans of the same host in the same network, run by two appliances,
  whose results are ingested at the same moment: one host, one detection per
  finding, statuses and counters consistent.
"""

import re
import time

import pytest

from assets.models import Host
from networks.models import Network
from scans.models import OPEN_STATUSES, Detection, ScanSlice
from tests.waiting import wait_for

from .stack import DONE, OFFLINE_AFTER

pytestmark = [
    pytest.mark.netns,
    pytest.mark.xdist_group("netns"),
    pytest.mark.django_db(transaction=True),
]

IP = "10.77.0.5"


def _finding_keys(stack, net) -> dict[tuple, dict]:
    rows = stack.detections(network=net)
    keys = {(d["ip"], d["qid"], d["port"], d["protocol"]): d for d in rows}
    assert len(keys) == len(rows), "duplicate detections"
    return keys


def test_broker_restart_mid_scan_loses_and_doubles_nothing(stack):
    net, profile, scan_id = stack.scanning_alone("Through a broker restart", IP)
    stack.lab.restart_broker(down_for=2)

    # A 7-second scan: it completes, or ends with a clear error, well within this.
    # Nothing restarts a central worker that exited here (no supervisor), so
    # once they all have, nothing can end the scan any more: say so at once.
    workers = [p for p in stack.central if p.name.startswith("central_worker")]

    def ended_or_stuck():
        body = stack.scan(scan_id)
        return body if body["status"] in DONE or not any(p.alive() for p in workers) else None

    body = wait_for(ended_or_stuck, timeout=45, what=f"scan {scan_id} to end", every=0.3)
    exited = [p.name for p in [*stack.central, *stack.appliances.values()] if not p.alive()]
    assert body["status"] in DONE, (
        f"scan {scan_id} is stuck after the broker restart ({body}); processes that exited "
        f"instead of reconnecting: {exited}"
    )
    done = body
    if done["status"] == "error":
        assert done["status_reason"], done  # a clear reason, then
    else:
        assert done["status"] == "finished", done
    first = _finding_keys(stack, net)
    assert {d["times_found"] for d in first.values()} <= {1}

    # The same scan again, the broker untouched (and the appliance's heartbeats
    # flowing again): every finding of the first scan is seen a second time
    # (none lost, none counted twice), and nothing new.
    stack.wait_beating("netns-a1")
    again = stack.launch("Again, undisturbed", net, IP, profile)
    assert stack.wait_done(again)["status"] == "finished"
    second = _finding_keys(stack, net)
    if done["status"] == "finished":
        assert set(second) == set(first)
        assert {(d["times_found"], d["status"]) for d in second.values()} == {(2, "active")}


def test_broker_away_longer_than_the_offline_limit_while_the_slice_ends(stack):
    """The broker is down for four times the offline limit, and the appliance
    finishes its slice meanwhile. It keeps the result until the broker is back
    (Celery gave up within seconds, and the result was lost), and the
    platform, which heard nothing from anyone all that time, waits for the
    appliance's heartbeats instead of taking its slice away ("went offline
    mid-scan", and with no other appliance, the scan in error)."""
    net, _, scan_id = stack.scanning_alone("Through a long broker outage", IP)
    stack.lab.stop_broker()
    outage = 4 * OFFLINE_AFTER
    started = time.monotonic()
    # The slice (about 7 s) ends while the broker is away.
    wait_for(lambda: not stack.scanning("netns-a1"), timeout=outage, what="nmap to end")
    time.sleep(max(0.0, outage - (time.monotonic() - started)))
    stack.lab.start_broker()

    done = stack.wait_done(scan_id, timeout=60)
    assert done["status"] == "finished", (done, stack.logs())
    piece = ScanSlice.objects.get(scan_id=scan_id)
    assert (piece.attempts, piece.ingested_from) == (1, "netns-a1")
    found = _finding_keys(stack, net)
    assert found and {d["times_found"] for d in found.values()} == {1}


def _ingested_at_once(log: str) -> bool:
    """Whether the central worker's log shows the two ingests running at the same time."""
    events = []
    for line in log.splitlines():
        match = re.search(r"\[([\d\-: ,]+): INFO/.*Task scans\.tasks\.ingest_slice\[([\w-]+)\] "
                          r"(received|succeeded)", line)  # fmt: skip
        if match:
            events.append((match.group(3), match.group(2)))
    received = [e for e in events if e[0] == "received"]
    first_done = next((i for i, e in enumerate(events) if e[0] == "succeeded"), None)
    return len(received) == 2 and first_done is not None and first_done >= 2


def test_two_scans_of_one_host_ingested_at_the_same_moment_stay_consistent(stack):
    net = stack.network("Plant A")
    a1 = stack.appliance("netns-a1", net, "a", scanner=1)
    a2 = stack.appliance("netns-a2", net, "a", scanner=2)
    stack.wait_online("netns-a1", "netns-a2")
    profile = stack.option_profile()

    # No central worker while the appliances scan: both results wait in the
    # "ingest" queue and a fresh worker with several threads takes them together.
    stack.stop_central()
    one = stack.launch("Scan one", net, IP, profile, appliance=a1)
    two = stack.launch("Scan two", net, IP, profile, appliance=a2)
    for name in ("netns-a1", "netns-a2"):
        wait_for(
            lambda n=name: (
                "Task scans.tasks.run_slice[" in stack.appliances[n].output(100_000)
                and "succeeded" in stack.appliances[n].output(100_000)
            ),
            timeout=60,
            what=f"{name} to send its result",
        )
    time.sleep(0.5)
    # Enough threads to take everything queued meanwhile (heartbeats too) at once.
    stack.start_central(concurrency=16)
    done = [stack.wait_done(one), stack.wait_done(two)]
    assert [d["status"] for d in done] == ["finished", "finished"], done
    # The worker writes its log after the task returns: wait for both lines.
    log = wait_for(
        lambda: (out := stack.central[0].output(200_000)).count("ingest_slice[") >= 4 and out,
        timeout=10,
        what="the central worker to log both ingests",
    )
    assert _ingested_at_once(log), "the ingests did not overlap"

    network = Network.objects.get(pk=net)
    assert Host.objects.filter(network=network, ip=IP).count() == 1
    keys = _finding_keys(stack, net)
    assert keys
    # Seen once by each scan: New -> Active, twice found, never two rows.
    assert {(d["times_found"], d["status"]) for d in keys.values()} == {(2, "active")}
    assert ScanSlice.objects.filter(scan_id__in=[one, two], ingested_at__isnull=False).count() == 2
    # The network's kept counters agree with its rows.
    assert network.host_count == 1
    open_rows = Detection.objects.filter(network=network, status__in=OPEN_STATUSES)
    for severity in range(1, 6):
        expected = open_rows.filter(severity=severity).count()
        assert network.open_findings.get(str(severity), 0) == expected, network.open_findings
