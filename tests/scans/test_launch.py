"""scan_launch: validation, slicing over online appliances, dispatch on commit."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core import iprange
from scans import services
from scans.models import FailoverWatch, Scan, ScanSlice, ScanStatus, SliceStatus
from scans.services.launch import split_ranges
from tests.factories import ApplianceFactory, AssetGroupFactory, NetworkFactory

pytestmark = pytest.mark.django_db


def launch(network, **kw):
    data = {"actor": None, "title": "t", "type": "vulnerability", "network": network}
    data.update(kw)
    return services.scan_launch(**data)


def test_split_ranges_covers_every_address_once_in_near_equal_parts():
    ranges = iprange.parse("127.0.0.1-127.0.0.10, 127.0.1.0/30")
    parts = split_ranges(ranges, 3)
    assert [iprange.count(p) for p in parts] == [5, 5, 4]
    assert iprange.merge([r for p in parts for r in p]) == ranges
    assert len(split_ranges(iprange.parse("127.0.0.1"), 4)) == 1


def test_launch_spreads_targets_over_online_appliances_after_commit(
    lab, online, sent, django_capture_on_commit_callbacks
):
    a, b = online("lab-a"), online("lab-b")
    ApplianceFactory(name="lab-off", network=lab)  # never seen: offline
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        scan = launch(lab, targets="127.0.0.1-127.0.0.4")
        assert not sent  # nothing leaves before the transaction commits
    assert callbacks
    assert scan.status == ScanStatus.QUEUED and scan.hosts_total == 4
    assert sorted(c["queue"] for c in sent) == ["appliance.lab-a", "appliance.lab-b"]
    slices = list(scan.slices.order_by("number"))
    assert [s.appliance for s in slices] == [a, b]
    assert all(s.status == SliceStatus.DISPATCHED and s.attempts == 1 for s in slices)
    assert {c["spec"]["slice_id"] for c in sent} == {s.pk for s in slices}
    assert sent[0]["spec"]["targets"] == ["127.0.0.1-127.0.0.2"]
    assert sent[0]["task_id"] == slices[0].task_id


def test_launch_with_a_named_appliance_sends_its_slices_only_to_it(
    lab, online, sent, django_capture_on_commit_callbacks
):
    online("lab-a")
    chosen = online("lab-b")
    with django_capture_on_commit_callbacks(execute=True):
        scan = launch(lab, targets="127.0.0.0/24", appliance=chosen)
    assert [c["queue"] for c in sent] == ["appliance.lab-b"] * 4
    assert [s.addresses for s in scan.slices.order_by("number")] == [64, 64, 64, 64]


def test_launch_with_no_online_appliance_waits_and_says_why(
    lab, sent, django_capture_on_commit_callbacks
):
    ApplianceFactory(name="sleepy", network=lab, last_seen=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        scan = launch(lab, targets="127.0.0.1")
    assert not sent
    assert scan.status == ScanStatus.QUEUED
    assert "no scanner appliance of network 'Lab' is online" in scan.status_reason
    assert scan.slices.get().status == SliceStatus.PENDING


def test_asset_groups_add_their_ranges(lab, online, sent):
    online("lab-a")
    group = AssetGroupFactory(network=lab)
    group.ip_ranges.create(
        start_key=iprange.ip_key("127.0.5.1"), end_key=iprange.ip_key("127.0.5.8")
    )
    scan = launch(lab, targets="127.0.0.1", asset_groups=[group])
    assert scan.hosts_total == 9
    assert list(scan.asset_groups.all()) == [group]


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        (
            {"targets": "10.0.0.1"},
            "targets",
            "10.0.0.1 is outside the address space of network 'Lab'",
        ),
        ({"targets": "127.0.0.300"}, "targets", "'127.0.0.300' is not an IP address"),
        ({"targets": ""}, "targets", "Give IPs or ranges"),
        ({"targets": "127.0.0.1", "title": " "}, "title", "needs a title"),
        ({"targets": "127.0.0.1", "type": "map"}, "type", "'map' is not a scan type"),
        ({"targets": "127.0.0.0/8"}, "targets", "at most"),
    ],
)
def test_launch_refuses_bad_input_and_writes_nothing(lab, sent, kwargs, field, text):
    with pytest.raises(ValidationError) as error:
        launch(lab, **kwargs)
    assert any(text in m for m in error.value.message_dict[field])
    assert not Scan.objects.exists() and not ScanSlice.objects.exists() and not sent


def test_launch_refuses_asset_group_and_appliance_of_another_network(lab, sent):
    other = NetworkFactory(name="Other", space="127.0.0.0/8")
    group = AssetGroupFactory(network=other, title="Theirs")
    appliance = ApplianceFactory(name="their-scanner", network=other, last_seen=timezone.now())
    with pytest.raises(ValidationError) as error:
        launch(lab, targets="127.0.0.1", asset_groups=[group], appliance=appliance)
    errors = error.value.message_dict
    assert (
        "Asset group 'Theirs' belongs to network 'Other', not to 'Lab'." in errors["asset_groups"]
    )
    assert "Scanner appliance 'their-scanner' belongs to network 'Other'" in errors["appliance"][0]
    assert not Scan.objects.exists()


def test_cancel_marks_open_slices_and_revokes_their_tasks(
    lab, online, sent, django_capture_on_commit_callbacks
):
    online("lab-a")
    with django_capture_on_commit_callbacks(execute=True):
        scan = launch(lab, targets="127.0.0.1")
    with django_capture_on_commit_callbacks(execute=True):
        services.scan_cancel(actor=None, scan=scan)
    scan.refresh_from_db()
    assert scan.status == ScanStatus.CANCELED and scan.finished
    assert scan.slices.get().status == SliceStatus.CANCELED
    assert sent[-1] == {"revoke": [scan.slices.get().task_id]}
    with pytest.raises(ValidationError, match="already ended"):
        services.scan_cancel(actor=None, scan=scan)


def test_progress_moves_scan_to_running_and_ignores_other_appliances(lab, online, sent):
    online("lab-a")
    scan = launch(lab, targets="127.0.0.1-127.0.0.10")
    piece = scan.slices.get()
    assert not services.slice_progress_record(slice_id=piece.pk, appliance="intruder", done=5)
    assert services.slice_progress_record(slice_id=piece.pk, appliance="lab-a", done=4, total=10)
    scan.refresh_from_db()
    assert scan.status == ScanStatus.RUNNING and scan.hosts_done == 4 and scan.progress == 40
    assert scan.started is not None


def test_failover_resends_to_another_online_appliance_of_the_same_network_only(
    lab, online, sent, listening, django_capture_on_commit_callbacks
):
    dead, survivor = online("lab-a"), online("lab-b")
    with django_capture_on_commit_callbacks(execute=True):
        scan = launch(lab, targets="127.0.0.1-127.0.0.4")
    piece = scan.slices.get(appliance=dead)
    old_task = piece.task_id
    # lab-a goes silent; a twin in another network is online but must not get its slice.
    type(dead).objects.filter(pk=dead.pk).update(last_seen=timezone.now() - timedelta(hours=1))
    other = NetworkFactory(name="Twin", space="127.0.0.0/8")
    ApplianceFactory(name="twin-a", network=other, last_seen=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 1
    piece.refresh_from_db()
    assert piece.appliance == survivor and piece.attempts == 2 and piece.task_id != old_task
    assert [c for c in sent if c.get("task_id") == piece.task_id][0]["queue"] == "appliance.lab-b"
    assert all(c.get("queue") != "appliance.twin-a" for c in sent)
    assert {"revoke": [old_task]} in sent


def test_scan_ends_in_error_when_every_appliance_of_its_network_died_mid_scan(
    lab, online, sent, listening, django_capture_on_commit_callbacks
):
    only = online("lab-a")
    with django_capture_on_commit_callbacks(execute=True):
        scan = launch(lab, targets="127.0.0.1-127.0.0.4")
    piece = scan.slices.get()
    services.slice_progress_record(slice_id=piece.pk, appliance="lab-a", done=1, total=4)
    type(only).objects.filter(pk=only.pk).update(last_seen=timezone.now() - timedelta(hours=1))
    other = NetworkFactory(name="Twin", space="127.0.0.0/8")
    ApplianceFactory(name="twin-a", network=other, last_seen=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 0
    piece.refresh_from_db()
    scan.refresh_from_db()
    assert piece.status == SliceStatus.ERROR
    assert scan.status == ScanStatus.ERROR and scan.finished is not None
    assert "'lab-a' went offline" in scan.status_reason
    assert "no other scanner appliance of network 'Lab' is online" in scan.status_reason
    assert all(c.get("queue") != "appliance.twin-a" for c in sent)
    assert {"revoke": [piece.task_id]} in sent


def _silent_for(appliance, seconds):
    type(appliance).objects.filter(pk=appliance.pk).update(
        last_seen=timezone.now() - timedelta(seconds=seconds)
    )


def test_the_first_check_of_all_judges_nobody_offline(lab, online, sent):
    """Workers just started: heartbeats sent while they were down may still
    wait in the queue behind the first check."""
    only = online("lab-a")
    scan = launch(lab, targets="127.0.0.1-127.0.0.4")
    _silent_for(only, 3600)
    assert services.slices_reassign() == 0
    piece = scan.slices.get()
    assert piece.status == SliceStatus.DISPATCHED and piece.appliance == only
    watch = FailoverWatch.objects.get()
    assert watch.listening_since == watch.checked_at


def test_after_a_break_in_checks_nobody_is_judged_offline_until_heard_for_the_whole_limit(
    lab, online, sent, listening, settings, django_capture_on_commit_callbacks
):
    """The broker was down for a minute: no check ran and no heartbeat was
    heard. An appliance silent for that minute may never have stopped; it gets
    the offline limit of listening again before its slice is taken back."""
    settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER = 30
    only = online("lab-a")
    with django_capture_on_commit_callbacks(execute=True):
        scan = launch(lab, targets="127.0.0.1-127.0.0.4")
    FailoverWatch.objects.update(checked_at=timezone.now() - timedelta(seconds=60))
    _silent_for(only, 65)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 0
    piece = scan.slices.get()
    assert piece.status == SliceStatus.DISPATCHED and piece.appliance == only
    assert not [c for c in sent if "revoke" in c]
    watch = FailoverWatch.objects.get()
    assert timezone.now() - watch.listening_since < timedelta(seconds=5)

    # Checks at the beat's pace (well under half the limit apart) go on
    # counting from the break...
    FailoverWatch.objects.update(checked_at=timezone.now() - timedelta(seconds=5))
    assert services.slices_reassign() == 0
    assert FailoverWatch.objects.get().listening_since == watch.listening_since
    # ...and once the platform has listened for the whole limit, still without
    # a word from it, the appliance is offline.
    FailoverWatch.objects.update(listening_since=timezone.now() - timedelta(seconds=31))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 0
    scan.refresh_from_db()
    assert scan.status == ScanStatus.ERROR and "'lab-a' went offline" in scan.status_reason


def test_reassign_leaves_slices_of_live_appliances_alone(lab, online, sent):
    online("lab-a")
    online("lab-b")
    launch(lab, targets="127.0.0.1-127.0.0.4")
    assert services.slices_reassign() == 0


# --- An appliance moved to another network mid-scan -------------------------------------


def test_a_moved_appliance_loses_its_slice_to_one_of_the_scans_network(
    lab, online, sent, listening, django_capture_on_commit_callbacks
):
    """Failover never leaves a slice on an appliance that now sits in another
    network, and never hands it to that network's appliances."""
    from networks import services as network_services
    from scans.models import ScanSlice

    a1, a2 = online("lab-a1"), online("lab-a2")
    plant = NetworkFactory(name="Plant", space="10.9.0.0/24")
    theirs = online("plant-1", network=plant)
    scan = services.scan_launch(
        actor=None, title="t", type="discovery", network=lab, targets="127.0.0.1-127.0.0.8"
    )
    moved = ScanSlice.objects.get(scan=scan, appliance=a1)
    old_task = moved.task_id
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        network_services.appliance_update(actor=None, appliance=a1, network=plant)
    assert {"revoke": [old_task]} in sent  # stopped at once, not at the next heartbeat
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 1
    moved.refresh_from_db()
    assert moved.appliance == a2 and moved.appliance != theirs
    assert [c["queue"] for c in sent if "queue" in c] == [a2.queue]


def test_a_moved_appliance_that_was_the_networks_last_ends_its_slice_in_error(
    lab, online, sent, listening
):
    from networks import services as network_services

    only = online("lab-only")
    plant = NetworkFactory(name="Plant", space="10.9.0.0/24")
    online("plant-1", network=plant)
    scan = services.scan_launch(
        actor=None, title="t", type="discovery", network=lab, targets="127.0.0.1-127.0.0.4"
    )
    network_services.appliance_update(actor=None, appliance=only, network=plant)
    services.slices_reassign()
    scan.refresh_from_db()
    assert scan.status == "error"
    assert "no other scanner appliance of network 'Lab'" in scan.status_reason
    assert not any(c.get("queue") == "appliance.plant-1" for c in sent)


def test_a_scan_that_named_the_moved_appliance_ends_its_slice_at_the_move(lab, online, sent):
    from networks import services as network_services

    named = online("lab-named")
    online("lab-other")
    scan = services.scan_launch(
        actor=None,
        title="t",
        type="discovery",
        network=lab,
        appliance=named,
        targets="127.0.0.1-127.0.0.4",
    )
    network_services.appliance_update(
        actor=None, appliance=named, network=NetworkFactory(name="Plant", space="10.9.0.0/24")
    )
    scan.refresh_from_db()
    assert scan.status == "error"
    assert "'lab-named' was moved to network 'Plant' mid-scan" in scan.status_reason
    assert services.slices_reassign() == 0  # nobody else runs a named appliance's slice


def test_checks_at_the_beat_s_pace_never_count_as_a_break(listening, settings):
    """Even with an offline limit under two heartbeat intervals (the beat
    checks once an interval), or nobody would ever be judged offline."""
    settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER, settings.ENCLAVE_HEARTBEAT_INTERVAL = 6, 5
    FailoverWatch.objects.update(checked_at=timezone.now() - timedelta(seconds=5.5))
    services.slices_reassign()
    assert timezone.now() - FailoverWatch.objects.get().listening_since > timedelta(minutes=59)
