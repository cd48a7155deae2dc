"""slice_ingest: hosts by (network, IP), detection statuses, idempotency, counters."""

import pytest

from assets.models import Host
from core.results import Finding, HostResult, SliceResult
from scans import services
from scans.models import Detection, DetectionStatus, ScanStatus, SliceStatus
from tests.factories import NetworkFactory

pytestmark = pytest.mark.django_db


def launch(network, targets="127.0.0.1-127.0.0.4", type="vulnerability"):
    return services.scan_launch(actor=None, title="t", type=type, network=network, targets=targets)


def result_for(scan, hosts, error=""):
    piece = scan.slices.get()
    return SliceResult(
        scan_id=scan.pk,
        slice_id=piece.pk,
        appliance=piece.appliance.name if piece.appliance else "lab-a",
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T00:00:05+00:00",
        hosts=hosts,
        addresses_probed=piece.addresses,
        error=error,
    )


def tls_host(ip="127.0.0.2", *findings, checks=("tls", "http")):
    return HostResult(ip=ip, findings=list(findings), checks_run=list(checks))


def cert(port=8443):
    return Finding(qid=938001, port=port, protocol="tcp", results=f"notAfter 2020 on {port}")


def status_of(qid, port=8443):
    return Detection.objects.get(vulnerability_id=qid, port=port).status


def scan_once(lab, *hosts, type="vulnerability"):
    scan = launch(lab, type=type)
    outcome = services.slice_ingest(result=result_for(scan, list(hosts)))
    scan.refresh_from_db()
    return scan, outcome


def test_new_active_fixed_reopened(lab, online, sent, kb):
    online("lab-a")
    scan, _ = scan_once(lab, tls_host("127.0.0.2", cert()))
    assert scan.status == ScanStatus.FINISHED and scan.hosts_found == 1
    d = Detection.objects.get()
    assert (d.status, d.times_found, d.severity) == (DetectionStatus.NEW, 1, 2)
    assert d.results == "notAfter 2020 on 8443" and d.network == lab
    first_found = d.first_found

    scan_once(lab, tls_host("127.0.0.2", cert()))
    d.refresh_from_db()
    assert (d.status, d.times_found, d.first_found) == (DetectionStatus.ACTIVE, 2, first_found)
    assert d.last_found > first_found

    scan_once(lab, tls_host("127.0.0.2"))  # the tls check ran and saw nothing
    d.refresh_from_db()
    assert d.status == DetectionStatus.FIXED and d.fixed_at is not None

    scan_once(lab, tls_host("127.0.0.2", cert()))
    d.refresh_from_db()
    assert (d.status, d.times_found, d.fixed_at) == (DetectionStatus.REOPENED, 3, None)


def test_not_fixed_when_the_check_did_not_run_or_the_host_was_not_found(lab, online, sent, kb):
    online("lab-a")
    scan_once(lab, tls_host("127.0.0.2", cert()))
    scan_once(lab, tls_host("127.0.0.2", checks=("http",)))  # tls check skipped
    assert status_of(938001) == DetectionStatus.NEW
    scan_once(lab)  # host not up this time: not looked at
    assert status_of(938001) == DetectionStatus.NEW


def test_a_slice_delivered_twice_changes_nothing_the_second_time(lab, online, sent, kb):
    online("lab-a")
    scan = launch(lab)
    result = result_for(scan, [tls_host("127.0.0.2", cert())])
    assert services.slice_ingest(result=result).ingested
    assert not services.slice_ingest(result=result).ingested
    d = Detection.objects.get()
    assert (d.times_found, d.status) == (1, DetectionStatus.NEW)
    assert Host.objects.count() == 1 and scan.scan_hosts.count() == 1


def test_hosts_are_per_network_and_counters_kept(lab, online, sent, kb):
    online("lab-a")
    twin = NetworkFactory(name="Twin", space="127.0.0.0/8")
    online("twin-a", network=twin)
    scan_once(lab, tls_host("127.0.0.2", cert(), cert(9443)), tls_host("127.0.0.3"))
    scan_once(twin, tls_host("127.0.0.2", cert()))
    assert Host.objects.filter(ip="127.0.0.2").count() == 2
    lab.refresh_from_db()
    twin.refresh_from_db()
    assert lab.host_count == 2 and twin.host_count == 1
    assert lab.open_findings == {"1": 0, "2": 2, "3": 0, "4": 0, "5": 0}
    assert twin.open_findings["2"] == 1
    scan_once(lab, tls_host("127.0.0.2"), tls_host("127.0.0.3"))
    lab.refresh_from_db()
    assert lab.open_findings["2"] == 0 and lab.host_count == 2


def test_discovery_scan_records_hosts_but_no_detections(lab, online, sent, kb):
    online("lab-a")
    scan, outcome = scan_once(
        lab, HostResult(ip="127.0.0.3", dns="lab3", findings=[cert()]), type="discovery"
    )
    assert outcome.hosts == 1 and outcome.detections == 0
    assert not Detection.objects.exists()
    host = Host.objects.get()
    assert (host.ip, host.dns, host.network) == ("127.0.0.3", "lab3", lab)
    # A later result without a name keeps the name known.
    scan_once(lab, HostResult(ip="127.0.0.3"), type="discovery")
    host.refresh_from_db()
    assert host.dns == "lab3"


def test_addresses_outside_the_slice_are_ignored(lab, online, sent, kb):
    online("lab-a")
    scan, outcome = scan_once(lab, tls_host("127.0.0.9", cert()), tls_host("127.0.0.1"))
    assert outcome.hosts == 1
    assert list(Host.objects.values_list("ip", flat=True)) == ["127.0.0.1"]


def test_result_after_cancel_is_ignored(lab, online, sent, kb):
    online("lab-a")
    scan = launch(lab)
    services.scan_cancel(actor=None, scan=scan)
    assert not services.slice_ingest(
        result=result_for(scan, [tls_host("127.0.0.2", cert())])
    ).ingested
    assert not Host.objects.exists()


def test_slice_error_ends_the_scan_in_error_with_the_reason(lab, online, sent, kb):
    online("lab-a")
    scan = launch(lab)
    services.slice_ingest(result=result_for(scan, [], error="nmap is not installed"))
    scan.refresh_from_db()
    assert scan.status == ScanStatus.ERROR and "nmap is not installed" in scan.status_reason
    assert scan.slices.get().status == SliceStatus.ERROR


def test_scan_results_count_findings_by_severity(lab, online, sent, kb):
    from scans.selectors import scan_findings_by_severity

    online("lab-a")
    scan, _ = scan_once(
        lab,
        tls_host("127.0.0.2", cert(), Finding(qid=938002, port=8443, protocol="tcp")),
        tls_host("127.0.0.3", Finding(qid=986001, port=80, protocol="tcp")),
    )
    assert scan_findings_by_severity(scan=scan) == {"1": 1, "2": 1, "3": 1, "4": 0, "5": 0}


def test_counters_add_up_slice_by_slice_while_the_scan_runs(lab, online, sent, kb):
    online("lab-a")
    online("lab-b")
    scan = launch(lab, targets="127.0.0.1-127.0.0.4")
    first, second = scan.slices.order_by("number")
    assert (first.targets, second.targets) == ("127.0.0.1-127.0.0.2", "127.0.0.3-127.0.0.4")

    def result(piece, hosts):
        return SliceResult(scan.pk, piece.pk, piece.appliance.name, "", "", hosts=hosts)

    services.slice_ingest(
        result=result(first, [tls_host("127.0.0.1", cert(), cert(9443)), tls_host("127.0.0.2")])
    )
    lab.refresh_from_db()
    scan.refresh_from_db()
    assert scan.status == ScanStatus.RUNNING and scan.hosts_done == 2
    assert lab.host_count == 2 and lab.open_findings["2"] == 2
    services.slice_ingest(result=result(second, [tls_host("127.0.0.3", cert())]))
    lab.refresh_from_db()
    assert lab.host_count == 3 and lab.open_findings["2"] == 3
    # The next scan fixes one of them: the counter goes down by one mid-scan.
    scan = launch(lab, targets="127.0.0.1-127.0.0.4")
    first = scan.slices.order_by("number").first()
    services.slice_ingest(result=result(first, [tls_host("127.0.0.1", cert())]))
    lab.refresh_from_db()
    assert lab.open_findings["2"] == 2 and lab.host_count == 3


def test_ingest_that_adds_hosts_recounts_the_networks_overlaps(
    lab, online, sent, kb, monkeypatch, django_capture_on_commit_callbacks
):
    from assets.models import NetworkOverlap
    from assets.tasks import refresh_overlaps

    calls = []
    monkeypatch.setattr(
        "scans.services.ingest.refresh_overlaps.delay",
        lambda **kw: calls.append(kw) or refresh_overlaps(**kw),
    )
    online("lab-a")
    twin = NetworkFactory(name="Twin", space="127.0.0.0/8")
    online("twin-a", network=twin)
    with django_capture_on_commit_callbacks(execute=True):
        scan_once(lab, tls_host("127.0.0.2"), tls_host("127.0.0.3"))
    with django_capture_on_commit_callbacks(execute=True):
        scan_once(twin, tls_host("127.0.0.2"))
    assert calls == [{"network_id": lab.pk}, {"network_id": twin.pk}]
    assert NetworkOverlap.objects.get().hosts_in_both == 1
    with django_capture_on_commit_callbacks(execute=True):
        scan_once(lab, tls_host("127.0.0.2"))  # no new host: nothing to recount
    assert len(calls) == 2


def test_a_slice_delivered_twice_while_another_is_open_is_ingested_once(lab, online, sent, kb):
    """Redelivery mid-scan (slice 2 still running): the second copy of slice 1
    changes nothing, so its findings stay New, seen once."""
    online("lab-a")
    online("lab-b")
    scan = launch(lab, targets="127.0.0.1-127.0.0.8")
    first, second = scan.slices.order_by("number")
    result = SliceResult(
        scan_id=scan.pk,
        slice_id=first.pk,
        appliance=first.appliance.name,
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T00:00:05+00:00",
        hosts=[tls_host("127.0.0.2", cert())],
        addresses_probed=first.addresses,
    )
    assert services.slice_ingest(result=result).ingested
    assert not services.slice_ingest(result=result).ingested
    d = Detection.objects.get()
    assert (d.status, d.times_found) == (DetectionStatus.NEW, 1)
    scan.refresh_from_db()
    second.refresh_from_db()
    assert scan.status == ScanStatus.RUNNING and second.ingested_at is None
    assert Host.objects.filter(network=lab).count() == 1


def test_the_detection_counter_follows_ingest_fixes_deletions_and_recounts(
    lab, online, sent, kb, api_as
):
    """The API's detections list takes its count from Network.detection_count
    (every status): slice by slice while a scan runs (added), at its end
    (recounted), after a re-scan that fixes and finds, after a host is deleted,
    and a recount heals a counter that drifted."""
    from assets.signals import hosts_deleting
    from networks.services import network_counters_set
    from scans.services.ingest import network_counters_refresh

    online("lab-a")
    online("lab-b")
    api = api_as("reader")

    def counted():
        lab.refresh_from_db()
        whole = api.get("/api/v1/detections/").json()["count"]
        assert whole == api.get("/api/v1/detections/", {"network": lab.pk}).json()["count"]
        assert lab.detection_count == whole
        return whole

    def scan_in_two_slices(first_hosts, second_hosts):
        scan = launch(lab, targets="127.0.0.1-127.0.0.4")
        first, second = scan.slices.order_by("number")
        for piece, hosts in ((first, first_hosts), (second, second_hosts)):
            services.slice_ingest(
                result=SliceResult(scan.pk, piece.pk, piece.appliance.name, "", "", hosts=hosts)
            )
            if piece == first:  # mid-scan: the counter was moved, not recounted
                assert counted() == Detection.objects.count()

    proto = Finding(qid=938002, port=8443, protocol="tcp", results="TLS 1.0")
    scan_in_two_slices(
        [tls_host("127.0.0.1", cert(), cert(9443)), tls_host("127.0.0.2", cert())],
        [tls_host("127.0.0.3", cert())],
    )
    assert counted() == Detection.objects.count() == 4
    # Re-scan: .1 loses cert 9443 and gains proto, .2's cert is fixed, .3's seen again.
    scan_in_two_slices(
        [tls_host("127.0.0.1", cert(), proto), tls_host("127.0.0.2")],
        [tls_host("127.0.0.3", cert())],
    )
    assert Detection.objects.filter(status=DetectionStatus.FIXED).count() == 2
    assert counted() == Detection.objects.count() == 5
    gone = list(Host.objects.filter(network=lab, ip="127.0.0.1").values_list("pk", flat=True))
    hosts_deleting.send(sender=Host, host_ids=gone)  # as assets.cloud_sync deletes hosts
    Host.objects.filter(pk__in=gone).delete()
    assert counted() == Detection.objects.count() == 2
    network_counters_set(network_id=lab.pk, detections=40)  # drifted
    network_counters_refresh(network=lab)
    assert counted() == 2


def test_one_batch_that_inserts_updates_reopens_and_fixes_keeps_counters_exact(
    lab, online, sent, kb
):
    """Ingest splits a batch into new keys (inserted) and known ones (updated by
    id): in one slice a detection is found, one seen again, one re-opened and one
    fixed, and the counters it moves mid-scan equal a recount."""
    online("lab-a")
    online("lab-b")

    def first_slice(*findings):
        scan = launch(lab, targets="127.0.0.1-127.0.0.4")
        first = scan.slices.order_by("number").first()
        host = tls_host("127.0.0.1", *findings)
        services.slice_ingest(
            result=SliceResult(scan.pk, first.pk, first.appliance.name, "", "", hosts=[host])
        )
        return scan

    proto = Finding(qid=938002, port=8443, protocol="tcp", results="TLS 1.0")
    header = Finding(qid=986001, port=80, protocol="tcp", results="no HSTS")
    first_slice(cert(), cert(9443))
    first_slice(cert(), proto)  # cert 9443 fixed, proto found
    scan = first_slice(cert(), cert(9443), header)  # proto fixed
    scan.refresh_from_db()
    assert scan.status == ScanStatus.RUNNING  # counters moved by deltas, not recounted
    found = {
        (d.vulnerability_id, d.port): (d.status, d.times_found) for d in Detection.objects.all()
    }
    assert found == {
        (938001, 8443): (DetectionStatus.ACTIVE, 3),
        (938001, 9443): (DetectionStatus.REOPENED, 2),
        (938002, 8443): (DetectionStatus.FIXED, 1),
        (986001, 80): (DetectionStatus.NEW, 1),
    }
    lab.refresh_from_db()
    assert lab.open_findings == {"1": 1, "2": 2, "3": 0, "4": 0, "5": 0}
    assert lab.detection_count == 4
