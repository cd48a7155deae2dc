"""Slices of at most 64 addresses, sent a window per appliance at a time: the next
goes when one ends (ingest) or on the beat; every address is scanned once and
failover still moves work only inside the scan's network."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core import iprange
from core.results import SliceResult
from networks.models import ScannerAppliance
from scans import services
from scans.models import ScanSlice, ScanStatus, SliceStatus
from scans.services.dispatch import appliance_window
from scans.services.launch import MAX_SLICES, slice_count
from tests.factories import ApplianceFactory, NetworkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_window(settings):
    """Appliances run 1 slice at once: each holds 3 (1 + 2 queued ahead)."""
    settings.ENCLAVE_APPLIANCE_SLICES = 1
    return 3


def launch(network, targets, **kw):
    return services.scan_launch(
        actor=None, title=kw.pop("title", "t"), type="discovery", network=network,
        targets=targets, **kw,
    )  # fmt: skip


def held(appliance) -> int:
    return ScanSlice.objects.filter(
        appliance=appliance, status__in=(SliceStatus.DISPATCHED, SliceStatus.RUNNING)
    ).count()


def finish(scan_slice):
    """The appliance's (empty) result comes back through the ingest task's service."""
    scan_slice.refresh_from_db()
    return services.slice_result_record(
        result=SliceResult(
            scan_id=scan_slice.scan_id,
            slice_id=scan_slice.pk,
            appliance=scan_slice.appliance.name,
            started="",
            finished="",
        )
    )


@pytest.mark.parametrize(
    ("total", "appliances", "expected"),
    [
        (1, 1, 1),
        (64, 1, 1),
        (65, 1, 2),
        (4, 2, 2),  # small scans still spread over every appliance
        (4, 9, 4),  # but never into empty slices
        (1 << 20, 3, 16_384),
    ],
)
def test_slice_count(total, appliances, expected):
    assert slice_count(total, appliances=appliances) == expected


def test_slice_size_is_a_setting_and_the_count_fits_the_slice_number(settings):
    settings.ENCLAVE_SLICE_MAX_ADDRESSES = 16
    assert slice_count(256, appliances=1) == 16
    assert slice_count(1 << 20, appliances=1) == MAX_SLICES


def test_slices_hold_at_most_64_addresses_and_cover_each_address_once(lab, online, sent):
    online("lab-a")
    targets = "127.0.0.0/23, 127.0.9.7, 127.0.10.1-127.0.10.100"
    scan = launch(lab, targets)
    slices = list(scan.slices.order_by("number"))
    assert scan.hosts_total == 512 + 1 + 100 and len(slices) == 10  # ceil(613 / 64)
    assert max(s.addresses for s in slices) <= 64
    assert sum(s.addresses for s in slices) == scan.hosts_total
    pieces = [r for s in slices for r in iprange.parse(s.targets)]
    assert iprange.count(pieces) == scan.hosts_total  # no address twice
    assert iprange.merge(pieces) == iprange.parse(targets)  # and none left out


def test_a_window_per_appliance_goes_out_and_the_next_when_one_ends(
    lab, online, sent, small_window, django_capture_on_commit_callbacks
):
    appliance = online("lab-a")
    with django_capture_on_commit_callbacks(execute=True):
        scan = launch(lab, "127.0.0.0/24, 127.0.1.0/24")  # 8 slices
    assert scan.slices.count() == 8
    assert len(sent) == small_window == appliance_window()
    assert held(appliance) == 3
    assert scan.status_reason == ""  # it has work out: nothing to explain
    first = scan.slices.get(number=1)
    with django_capture_on_commit_callbacks(execute=True):
        finish(first)
    assert held(appliance) == 3 and len(sent) == 4
    assert sent[-1]["spec"]["slice_id"] == scan.slices.get(number=4).pk
    # The beat finds the window full: nothing more goes out.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 0
    for _ in range(20):
        out = scan.slices.filter(status=SliceStatus.DISPATCHED).order_by("number").first()
        if out is None:
            break
        with django_capture_on_commit_callbacks(execute=True):
            finish(out)
    scan.refresh_from_db()
    assert scan.status == ScanStatus.FINISHED and scan.progress == 100
    assert len(sent) == 8  # each slice sent once
    assert sorted(c["spec"]["slice_id"] for c in sent) == sorted(
        scan.slices.values_list("pk", flat=True)
    )


def test_a_scan_of_a_million_addresses_sends_one_window_not_sixteen_thousand_slices(
    lab, online, sent, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    appliance = online("lab-a")
    # The slices are written in batches: 17 on PostgreSQL, ~290 on SQLite (whose
    # bound-parameter limit fits ~58 rows in an INSERT); one UPDATE per slice sent.
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(320):
        scan = launch(lab, "127.0.0.0/12")
    assert scan.hosts_total == 1 << 20
    assert scan.slices.count() == 16_384
    assert len(sent) == appliance_window() and held(appliance) == appliance_window()
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(30):
        assert services.slices_reassign() == 0
    assert len(sent) == appliance_window()


def test_first_slices_spread_over_appliances_and_a_new_scan_goes_before_an_old_ones_rest(
    lab, online, sent, small_window, django_capture_on_commit_callbacks
):
    a, b = online("lab-a"), online("lab-b")
    with django_capture_on_commit_callbacks(execute=True):
        big = launch(lab, "127.0.0.0/23", title="big")  # 8 slices, 6 fit the windows
    assert [s.appliance for s in big.slices.order_by("number")[:6]] == [a, b, a, b, a, b]
    with django_capture_on_commit_callbacks(execute=True):
        small = launch(lab, "127.0.5.1-127.0.5.20", title="small")  # 2 slices (2 appliances)
    small.refresh_from_db()
    assert small.status == ScanStatus.QUEUED
    assert "busy with other scans" in small.status_reason
    with django_capture_on_commit_callbacks(execute=True):
        finish(big.slices.get(number=1))
    # Slice 1 of the new scan before slice 7 of the old one.
    assert small.slices.get(number=1).status == SliceStatus.DISPATCHED
    assert big.slices.get(number=7).status == SliceStatus.PENDING
    assert held(a) <= 3 and held(b) <= 3


def test_a_named_appliance_gets_its_window_even_offline_and_only_its_own(
    lab, online, sent, small_window, django_capture_on_commit_callbacks
):
    online("lab-a")
    asleep = ApplianceFactory(
        name="lab-asleep", network=lab, last_seen=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        scan = launch(lab, "127.0.0.0/24, 127.0.1.0/24", appliance=asleep)
    assert {c["queue"] for c in sent} == {"appliance.lab-asleep"} and len(sent) == 3
    assert "'lab-asleep', which is offline" in scan.status_reason
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 0  # lab-a never gets them


def test_failover_gives_the_held_slices_to_the_survivor_within_its_window(
    lab, online, sent, listening, small_window, django_capture_on_commit_callbacks
):
    dead, survivor = online("lab-a"), online("lab-b")
    twin = ApplianceFactory(
        name="twin-a",
        network=NetworkFactory(name="Twin", space="127.0.0.0/8"),
        last_seen=timezone.now(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        scan = launch(lab, "127.0.0.0/23")  # 8 slices: 3 each out, 2 waiting
    lost = list(scan.slices.filter(appliance=dead).values_list("task_id", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        finish(scan.slices.filter(appliance=survivor).first())  # room for one more
    ScannerAppliance.objects.filter(pk=dead.pk).update(
        last_seen=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 0  # the survivor's window is full again
    assert all({"revoke": [task]} in sent for task in lost)
    assert held(survivor) == 3 and held(dead) == 0
    assert scan.slices.filter(status=SliceStatus.PENDING).count() == 4  # 3 back + 1
    # Everything ends on the survivor, each address once, nothing on the twin.
    for _ in range(20):
        out = scan.slices.filter(status=SliceStatus.DISPATCHED).first()
        if out is None:
            break
        with django_capture_on_commit_callbacks(execute=True):
            finish(out)
    scan.refresh_from_db()
    assert scan.status == ScanStatus.FINISHED
    assert set(scan.slices.values_list("ingested_from", flat=True)) == {"lab-b"}
    assert not any(c.get("queue") == twin.queue for c in sent)


def test_when_the_last_appliance_dies_the_rest_of_the_scan_ends_in_error(
    lab, online, sent, listening, small_window, django_capture_on_commit_callbacks
):
    only = online("lab-a")
    with django_capture_on_commit_callbacks(execute=True):
        scan = launch(lab, "127.0.0.0/24, 127.0.1.0/24")
    with django_capture_on_commit_callbacks(execute=True):
        finish(scan.slices.get(number=1))  # one slice's results are kept
    ScannerAppliance.objects.filter(pk=only.pk).update(
        last_seen=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 0
    scan.refresh_from_db()
    assert scan.status == ScanStatus.ERROR and scan.finished is not None
    assert "'lab-a' went offline" in scan.status_reason
    assert scan.slices.filter(status=SliceStatus.DONE).count() == 1
    assert scan.slices.filter(status=SliceStatus.ERROR).count() == 7
    assert not scan.slices.filter(status__in=(SliceStatus.PENDING, SliceStatus.DISPATCHED))


def test_a_waiting_scan_starts_when_an_appliance_comes_online(
    lab, sent, small_window, django_capture_on_commit_callbacks
):
    sleepy = ApplianceFactory(
        name="lab-sleepy", network=lab, last_seen=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        scan = launch(lab, "127.0.0.0/24")
    assert not sent and "no scanner appliance of network 'Lab' is online" in scan.status_reason
    ScannerAppliance.objects.filter(pk=sleepy.pk).update(last_seen=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 3
    scan.refresh_from_db()
    assert scan.status_reason == ""


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_real_appliance_works_through_the_slices_a_window_at_a_time(
    lab, settings, ingest_worker, appliance_process
):
    """16 loopback addresses in slices of 2, a window of 3: the central worker
    sends the next slice after each ingest, and every server is found once."""
    from tests.waiting import wait_for

    from .servers import Server, loopback_ip

    settings.ENCLAVE_SLICE_MAX_ADDRESSES = 2
    settings.ENCLAVE_APPLIANCE_SLICES = 1
    base = loopback_ip().rsplit(".", 1)[0]
    web = [Server(f"{base}.{n}", ports=(8080,)).start() for n in (2, 7, 16)]
    name = f"e2e-slices-{base.replace('.', '-')}"
    ScannerAppliance.objects.create(name=name, network=lab)
    proc = appliance_process(name)
    try:
        wait_for(
            lambda: ScannerAppliance.objects.get(name=name).status != "offline",
            timeout=30,
            what="the appliance's first heartbeat",
        )
        profile = services.option_profile_create(
            actor=None, name="ports", tcp_port_set="custom", tcp_ports="8080"
        )
        scan = services.scan_launch(
            actor=None,
            title="slices",
            type="discovery",
            network=lab,
            targets=f"{base}.1-{base}.16",
            option_profile=profile,
        )
        most_held = []

        def ended():
            most_held.append(
                scan.slices.filter(status__in=(SliceStatus.DISPATCHED, SliceStatus.RUNNING)).count()
            )
            scan.refresh_from_db()
            return scan.is_done

        wait_for(ended, timeout=120, what="the scan to finish", every=0.05)
        assert scan.status == ScanStatus.FINISHED, scan.status_reason
        assert scan.slices.count() == 8 and max(most_held) <= 3
        assert set(scan.slices.values_list("status", "attempts")) == {(SliceStatus.DONE, 1)}
        found = sorted(scan.scan_hosts.values_list("host__ip", flat=True))
        assert found == sorted(f"{base}.{n}" for n in (2, 7, 16))
    except AssertionError:
        print(proc.log_path.read_text())
        raise
    finally:
        for server in web:
            server.stop()
