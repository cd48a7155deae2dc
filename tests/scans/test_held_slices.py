"""An appliance says which slices it holds; failover takes back the running
ones an appliance, alive, no longer holds (it restarted mid-slice), and an
appliance runs a task id once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from networks import services as network_services
from scans import services
from scans.appliance import ApplianceState
from scans.models import ScanSlice, ScanStatus, SliceStatus

pytestmark = pytest.mark.django_db


# --- The appliance's side ---------------------------------------------------------------


@pytest.fixture
def beats(monkeypatch):
    """An appliance state whose heartbeats are recorded, not sent."""
    from celery import current_app

    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, kwargs: sent.append(kwargs))
    state = ApplianceState()
    state.name = "lab-a"
    return state, sent


def test_heartbeats_say_which_slices_run_and_which_just_ended(beats, monkeypatch):
    state, sent = beats
    with state.slice_running("task-1") as fresh:
        assert fresh
        assert sent[-1]["slices"] == ["task-1"] and sent[-1]["running_slices"] == 1
    assert sent[-1]["slices"] == ["task-1"]  # answered: its result may wait for ingest
    assert sent[-1]["running_slices"] == 0
    assert [b["number"] for b in sent] == [1, 2]  # counted, for the platform's order
    assert {b["process"] for b in sent} == {state.process}

    later = state._finished["task-1"] + ApplianceState.FINISHED_SAID_FOR + 1
    monkeypatch.setattr("scans.appliance.time.monotonic", lambda: later)
    state.heartbeat()
    assert sent[-1]["slices"] == []


def test_a_task_id_runs_once_per_process(beats):
    """A message delivered again (the broker's visibility timeout, after an
    outage) is not scanned a second time, nor while the first still runs."""
    state, _ = beats
    with state.slice_running("task-1") as first:
        assert first
        with state.slice_running("task-1") as again:
            assert not again
    with state.slice_running("task-1") as later:
        assert not later
    assert ApplianceState().process != state.process  # a new process starts afresh


def test_the_task_drops_a_slice_this_appliance_already_ran(monkeypatch):
    from scans import tasks
    from scans.appliance import STATE

    ran = []
    monkeypatch.setattr("scans.engine.runner.run_slice", lambda *a, **kw: ran.append(a))
    monkeypatch.setitem(STATE._finished, "task-ran", 0.0)
    spec = {"scan_id": 1, "slice_id": 2, "scan_type": "discovery", "targets": ["127.0.0.1"]}
    tasks.run_slice.apply(args=[spec], task_id="task-ran")
    assert not ran


# --- The platform's side ----------------------------------------------------------------


def test_a_heartbeat_overtaken_in_the_queue_does_not_bring_back_an_old_list():
    from tests.factories import ApplianceFactory

    appliance = ApplianceFactory()

    def beat(slices, process, number):
        network_services.appliance_heartbeat(
            name=appliance.name, slices=slices, process=process, number=number
        )
        appliance.refresh_from_db()
        return appliance.held_tasks

    assert beat(["t1"], "p1", 5) == ["t1"]
    assert beat([], "p1", 4) == ["t1"]  # sent before the one kept
    assert beat([], "p1", 6) == []
    assert beat(["t2"], "p2", 1) == ["t2"]  # a new process: its first heartbeat counts
    network_services.appliance_heartbeat(name=appliance.name)  # an older appliance
    appliance.refresh_from_db()
    assert appliance.held_tasks == ["t2"] and appliance.status == "online"
    assert beat(["t3"], "p2", "2") == ["t2"]  # a number that is not one: ignored


def _running_slice(lab, online, *, named: bool = False):
    appliance = online("lab-a")
    scan = services.scan_launch(
        actor=None,
        title="t",
        type="vulnerability",
        network=lab,
        targets="127.0.0.1-127.0.0.4",
        appliance=appliance if named else None,
    )
    piece = scan.slices.get()
    services.slice_progress_record(slice_id=piece.pk, appliance="lab-a", done=1, total=4)
    piece.refresh_from_db()
    assert piece.status == SliceStatus.RUNNING
    return appliance, scan, piece


def _holds(appliance, *tasks, process="p2", number=1, slots=8, running=None):
    network_services.appliance_heartbeat(
        name=appliance.name,
        slices=list(tasks),
        slots=slots,
        running_slices=len(tasks) if running is None else running,
        process=process,
        number=number,
    )


def _unheld_for(piece, seconds):
    ScanSlice.objects.filter(pk=piece.pk).update(
        unheld_since=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.mark.parametrize("named", [False, True], ids=["all scanners", "named appliance"])
def test_a_running_slice_its_live_appliance_no_longer_holds_is_sent_again(
    lab, online, sent, listening, settings, django_capture_on_commit_callbacks, named
):
    """The appliance restarted mid-slice: alive, never offline, but its new
    process holds nothing. The broker would give the slice's message back
    only after its visibility timeout (hours); the slice goes out again."""
    settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER = 30
    appliance, scan, piece = _running_slice(lab, online, named=named)
    old_task = piece.task_id
    _holds(appliance)  # the new process's first heartbeat

    assert services.slices_reassign() == 0  # not yet: noticed, counted from now
    piece.refresh_from_db()
    assert piece.status == SliceStatus.RUNNING and piece.unheld_since is not None

    _unheld_for(piece, 29)
    assert services.slices_reassign() == 0
    _unheld_for(piece, 31)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 1
    piece.refresh_from_db()
    assert piece.status == SliceStatus.DISPATCHED and piece.appliance == appliance
    assert piece.attempts == 2 and piece.task_id != old_task and piece.unheld_since is None
    assert piece.percent == 0 and piece.addresses_done == 0
    assert {"revoke": [old_task]} in sent
    assert [c["task_id"] for c in sent if "queue" in c] == [piece.task_id]
    scan.refresh_from_db()
    assert scan.status == ScanStatus.RUNNING and scan.hosts_done == 0


def test_a_slice_its_appliance_holds_again_is_left_alone(lab, online, sent, listening):
    """A heartbeat sent before the slice started, processed after its first
    report, lists it not; the next one does, and the count starts over."""
    appliance, _, piece = _running_slice(lab, online)
    _holds(appliance, number=1)
    services.slices_reassign()
    piece.refresh_from_db()
    assert piece.unheld_since is not None
    _holds(appliance, piece.task_id, number=2)
    assert services.slices_reassign() == 0
    piece.refresh_from_db()
    assert piece.unheld_since is None and piece.status == SliceStatus.RUNNING

    _holds(appliance, "another-task", number=3)
    services.slices_reassign()
    _unheld_for(piece, 3600)
    _holds(appliance, piece.task_id, number=4)  # held again, just before the check
    assert services.slices_reassign() == 0
    piece.refresh_from_db()
    assert piece.status == SliceStatus.RUNNING and piece.attempts == 1


def test_an_appliance_that_does_not_say_what_it_holds_keeps_its_slices(
    lab, online, sent, listening
):
    _, _, piece = _running_slice(lab, online)
    _unheld_for(piece, 3600)
    assert services.slices_reassign() == 0
    piece.refresh_from_db()
    assert piece.status == SliceStatus.RUNNING and piece.attempts == 1


def test_nothing_is_judged_unheld_before_the_platform_has_listened_long_enough(lab, online, sent):
    """After the first check of all (or a break), held lists may be stale too."""
    appliance, _, piece = _running_slice(lab, online)
    _holds(appliance)
    _unheld_for(piece, 3600)
    assert services.slices_reassign() == 0
    piece.refresh_from_db()
    assert piece.status == SliceStatus.RUNNING


def test_a_sent_slice_an_appliance_with_room_does_not_take_is_sent_again(
    lab, online, sent, listening, settings, django_capture_on_commit_callbacks
):
    """The broker lost the message (a broker that keeps nothing restarted):
    the appliance has a free slot, so it would have taken the slice from its
    queue; it does not hold it. A slice queued behind a full appliance's
    running ones is left to wait."""
    settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER = 30
    appliance = online("lab-a")
    scan = services.scan_launch(
        actor=None, title="t", type="discovery", network=lab, targets="127.0.0.1-127.0.0.4"
    )
    piece = scan.slices.get()
    assert piece.status == SliceStatus.DISPATCHED

    _holds(appliance, "a", "b", slots=2)  # full: the slice may wait in its queue
    services.slices_reassign()
    piece.refresh_from_db()
    assert piece.unheld_since is None

    _holds(appliance, "a", slots=2, number=2)  # a free slot, and it does not take it
    services.slices_reassign()
    _unheld_for(piece, 31)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.slices_reassign() == 1
    piece.refresh_from_db()
    assert piece.status == SliceStatus.DISPATCHED and piece.attempts == 2
    assert [c["queue"] for c in sent if "queue" in c] == [appliance.queue]


def test_what_an_appliance_says_it_holds_is_kept_in_its_own_order(lab, online):
    appliance = online("lab-a")
    _holds(appliance, "a", "b", slots=2, number=3)
    _holds(appliance, slots=2, number=2)  # overtaken in the queue: ignored
    appliance.refresh_from_db()
    assert (appliance.held_tasks, appliance.running_slices, appliance.slots) == (["a", "b"], 2, 2)
    assert appliance.status == "busy"


def test_an_appliance_newer_than_the_platform_still_counts_as_alive(lab):
    """Remote appliances may be upgraded before the platform: what their
    heartbeats and reports add is ignored, not a refused message."""
    from networks.tasks import appliance_heartbeat
    from tests.factories import ApplianceFactory

    appliance = ApplianceFactory(network=lab)
    appliance_heartbeat.apply(kwargs={"name": appliance.name, "said_in_2030": True}).get()
    appliance.refresh_from_db()
    assert appliance.status == "online"
