"""End to end, with real processes: an appliance subprocess (run_appliance) scans
real services on loopback; the central ingest worker records what it found."""

import pytest
from django.utils import timezone

from assets.models import Host
from networks.models import ScannerAppliance
from scans import services
from scans.engine.runner import ENGINE_VERSION
from scans.models import Detection, DetectionStatus, ScanHost, ScanStatus
from tests.waiting import wait_for

from .servers import BannerServer, Server, expired_self_signed, loopback_ip

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EXPIRED, SELF_SIGNED, MISSING_XFO = 38100, 38101, 86001


def appliance_online(name):
    def check():
        appliance = ScannerAppliance.objects.get(name=name)
        return appliance if appliance.status != "offline" else None

    return check


def run_scan(network, appliance, profile, ip, *, title):
    scan = services.scan_launch(
        actor=None,
        title=title,
        type="vulnerability",
        network=network,
        appliance=appliance,
        targets=ip,
        option_profile=profile,
    )
    wait_for(lambda: scan.refresh_from_db() or scan.is_done, timeout=60, what=f"{title} to finish")
    assert scan.status == ScanStatus.FINISHED, scan.status_reason
    return scan


def tls_statuses(port):
    return dict(
        Detection.objects.filter(
            port=port, vulnerability_id__in=(EXPIRED, SELF_SIGNED)
        ).values_list("vulnerability_id", "status")
    )


def test_vulnerability_scans_find_fix_and_reopen(lab, tmp_path, ingest_worker, appliance_process):
    ip = loopback_ip()
    http = Server(ip, ports=(8080,)).start()
    # A greeting service in TLS: nmap names it at once (a TLS web server costs
    # its service detection ~19 s of banner waits). 8443 is a port nmap tries TLS on first.
    tls = BannerServer(ip, ports=(8443, 443), tls=expired_self_signed(tmp_path, ip)).start()
    name = f"e2e-{ip.replace('.', '-')}"
    appliance = ScannerAppliance.objects.create(name=name, network=lab)
    profile = services.option_profile_create(
        actor=None,
        name="e2e",
        tcp_port_set="custom",
        tcp_ports=f"{http.port},{tls.port}",
        max_parallel_hosts=4,
        host_timeout=60,
    )
    proc = appliance_process(name)
    try:
        wait_for(appliance_online(name), timeout=30, what="the appliance's first heartbeat")
        appliance.refresh_from_db()
        assert appliance.version == ENGINE_VERSION and appliance.nmap_version

        first = run_scan(lab, None, profile, ip, title="first")
        assert tls_statuses(tls.port) == {EXPIRED: "new", SELF_SIGNED: "new"}
        # The web server's missing headers, found by the HTTP check.
        assert Detection.objects.filter(port=http.port, vulnerability_id=MISSING_XFO).exists()
        expired = Detection.objects.get(vulnerability_id=EXPIRED, port=tls.port)
        assert expired.results  # the evidence the check saw, e.g. the notAfter date
        assert expired.network == lab and expired.host.ip == ip
        host = Host.objects.get(network=lab, ip=ip)
        assert ScanHost.objects.get(scan=first, host=host).findings_total >= 2
        assert first.slices.get().ingested_from == name
        lab.refresh_from_db()
        assert lab.host_count == 1 and lab.open_findings["2"] >= 2

        tls.stop()
        run_scan(lab, None, profile, ip, title="second")
        assert tls_statuses(tls.port) == {EXPIRED: "fixed", SELF_SIGNED: "fixed"}
        still = Detection.objects.get(port=http.port, vulnerability_id=MISSING_XFO)
        assert (still.status, still.times_found) == (DetectionStatus.ACTIVE, 2)

        tls.start()
        third = run_scan(lab, appliance, profile, ip, title="third")
        assert tls_statuses(tls.port) == {EXPIRED: "reopened", SELF_SIGNED: "reopened"}

        # The broker delivers the third slice again (as after a lost ack): the
        # appliance runs it again and ingest must ignore the second result.
        counts = (Detection.objects.count(), Host.objects.count(), ScanHost.objects.count())
        piece = third.slices.get()
        from scans.services.dispatch import slice_spec
        from scans.tasks import run_slice

        resent = timezone.now()
        run_slice.apply_async(
            args=[slice_spec(piece, third, profile).to_dict()], queue=appliance.queue
        )
        wait_for(
            lambda: ScannerAppliance.objects.filter(
                pk=appliance.pk, running_slices=1, last_seen__gt=resent
            ).exists(),
            timeout=30,
            what="the appliance to run the slice again",
        )
        settled = timezone.now()
        wait_for(
            lambda: ScannerAppliance.objects.filter(
                pk=appliance.pk, running_slices=0, last_seen__gt=settled
            ).exists(),
            timeout=60,
            what="the repeated slice to end",
        )
        assert (Detection.objects.count(), Host.objects.count(), ScanHost.objects.count()) == counts
        again = Detection.objects.get(vulnerability_id=EXPIRED, port=tls.port)
        assert (again.status, again.times_found) == (DetectionStatus.REOPENED, 2)
    except AssertionError:
        print(proc.log_path.read_text())
        raise
    finally:
        http.stop()
        tls.stop()
