"""Scan schedules: the calendar, running due schedules, moving a schedule between
networks, and the pages and API that manage them."""

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEntry, Role, User
from core import iprange
from scans import services, tasks
from scans.models import Recurrence, Scan, ScanSlice, Schedule
from tests.factories import ApplianceFactory, AssetGroupFactory, NetworkFactory, UserFactory

pytestmark = pytest.mark.django_db


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def plan(recurrence, start) -> Schedule:
    return Schedule(recurrence=recurrence, start=start)


# --- The calendar -----------------------------------------------------------------------


def test_daily_runs_fall_on_the_start_time_of_the_next_day():
    start = at(2026, 3, 10, 9, 0)
    assert services.next_run_after(plan("daily", start), at(2026, 3, 12, 10, 0)) == at(
        2026, 3, 13, 9, 0
    )
    # At a run's own minute, the next one is the following day's.
    assert services.next_run_after(plan("daily", start), at(2026, 3, 12, 9, 0)) == at(
        2026, 3, 13, 9, 0
    )
    assert services.next_run_after(plan("daily", start), at(2026, 3, 12, 8, 59)) == at(
        2026, 3, 12, 9, 0
    )


def test_a_start_still_ahead_is_the_next_run():
    start = at(2026, 5, 1, 6, 0)
    for recurrence in Recurrence.values:
        assert services.next_run_after(plan(recurrence, start), at(2026, 4, 1)) == start


def test_weekly_runs_keep_the_weekday():
    start = at(2026, 3, 2, 22, 30)  # a Monday
    nxt = services.next_run_after(plan("weekly", start), at(2026, 3, 20, 12, 0))
    assert nxt == at(2026, 3, 23, 22, 30) and nxt.weekday() == 0


def test_monthly_runs_clamp_to_the_last_day_and_return_to_the_31st():
    start = at(2027, 1, 31, 3, 0)
    schedule = plan("monthly", start)
    assert services.next_run_after(schedule, at(2027, 2, 1)) == at(2027, 2, 28, 3, 0)
    assert services.next_run_after(schedule, at(2027, 2, 28, 3, 0)) == at(2027, 3, 31, 3, 0)
    assert services.next_run_after(schedule, at(2027, 4, 5)) == at(2027, 4, 30, 3, 0)
    leap = plan("monthly", at(2028, 1, 31, 3, 0))
    assert services.next_run_after(leap, at(2028, 2, 1)) == at(2028, 2, 29, 3, 0)
    assert services.next_run_after(leap, at(2028, 12, 31, 4, 0)) == at(2029, 1, 31, 3, 0)


def test_once_has_no_run_after_its_start():
    start = at(2026, 6, 1, 12, 0)
    assert services.next_run_after(plan("once", start), at(2026, 5, 1)) == start
    assert services.next_run_after(plan("once", start), start) is None
    assert services.next_run_after(plan("once", start), at(2026, 7, 1)) is None


@pytest.mark.parametrize("active", ["Europe/Berlin", "UTC"])  # the owner's form, or beat
def test_daily_runs_keep_the_owners_local_time_across_daylight_saving(active):
    """The wall clock is the owner's time zone, whichever zone computes the next run."""
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 27, 9, 0, tzinfo=berlin)  # CET; summer time starts Mar 29
    schedule = Schedule(recurrence="daily", start=start, owner=User(timezone="Europe/Berlin"))
    with timezone.override(ZoneInfo(active)):
        nxt = services.next_run_after(schedule, datetime(2026, 3, 30, 8, tzinfo=berlin))
    assert nxt.astimezone(berlin).hour == 9 and nxt.astimezone(berlin).day == 30
    assert nxt == at(2026, 3, 30, 7, 0)  # 09:00 CEST


def test_without_an_owner_the_servers_zone_keeps_the_wall_clock(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 27, 9, 0, tzinfo=berlin)
    nxt = services.next_run_after(plan("daily", start), datetime(2026, 3, 30, 8, tzinfo=berlin))
    assert nxt == at(2026, 3, 30, 7, 0)


# --- Services ---------------------------------------------------------------------------


@pytest.fixture
def owner(db):
    return UserFactory(username="owner", role=Role.SCANNER)


@pytest.fixture
def other(db):
    """A second network on the same loopback space: the same IPs are other machines."""
    return NetworkFactory(name="Other", space="127.0.0.0/8")


@pytest.fixture
def branch(db):
    return NetworkFactory(name="Branch", space="10.0.0.0/16")


def make(owner, network, **kw):
    data = {
        "actor": owner,
        "title": "Nightly",
        "type": "vulnerability",
        "network": network,
        "targets": "127.0.0.1-127.0.0.4",
        "recurrence": "daily",
        "start": timezone.now() + timedelta(hours=1),
    }
    data.update(kw)
    return services.schedule_create(**data)


def test_create_sets_next_run_to_the_start_and_audits(owner, lab):
    schedule = make(owner, lab)
    assert schedule.next_run == schedule.start and schedule.owner == owner
    assert schedule.option_profile == services.option_profile_default()
    entry = AuditEntry.objects.get(object_type="schedule", action=AuditEntry.Action.CREATE)
    assert entry.changes["network"] == "Lab" and entry.actor == owner


def test_create_refuses_what_a_launch_refuses(owner, lab, branch):
    with pytest.raises(ValidationError) as caught:
        make(
            owner,
            lab,
            targets="127.0.0.1, 10.0.0.7",
            appliance=ApplianceFactory(name="far", network=branch),
            recurrence="hourly",
            title=" ",
        )
    errors = caught.value.message_dict
    assert "10.0.0.7 is outside the address space of network 'Lab'" in errors["targets"][0]
    assert "'far' belongs to network 'Branch'" in errors["appliance"][0]
    assert "'hourly' is not a recurrence" in errors["recurrence"][0]
    assert "title" in errors
    with pytest.raises(ValidationError, match="start in the future"):
        make(owner, lab, recurrence="once", start=timezone.now() - timedelta(minutes=5))
    assert not Schedule.objects.exists()


def test_a_past_start_runs_next_at_its_next_calendar_slot(owner, lab):
    start = (timezone.now() - timedelta(days=3, hours=1)).replace(second=0, microsecond=0)
    schedule = make(owner, lab, start=start + timedelta(seconds=42))
    assert schedule.start == start  # kept to the minute
    assert schedule.next_run == start + timedelta(days=4)


def test_run_due_launches_on_the_schedules_network_and_advances_once(
    owner, lab, other, online, sent, django_capture_on_commit_callbacks
):
    online("lab-a")
    online("other-a", network=other)
    schedule = make(owner, lab)
    due = schedule.start + timedelta(minutes=1)
    assert services.schedules_run_due(now=schedule.start - timedelta(minutes=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.schedules_run_due(now=due) == 1
    scan = Scan.objects.get()
    assert scan.network == lab and scan.schedule == schedule and scan.launched_by == owner
    assert scan.title == "Nightly" and scan.hosts_total == 4
    assert [c["queue"] for c in sent] == ["appliance.lab-a"]  # never Other's, same IPs
    schedule.refresh_from_db()
    assert schedule.last_scan == scan and schedule.last_error == ""
    assert schedule.next_run == schedule.start + timedelta(days=1)
    assert services.schedules_run_due(now=due) == 0
    assert Scan.objects.count() == 1


def test_missed_runs_are_skipped_not_launched_in_a_burst(owner, lab, online, sent):
    online("lab-a")
    schedule = make(owner, lab)
    late = schedule.start + timedelta(days=3, minutes=5)
    assert services.schedules_run_due(now=late) == 1
    assert services.schedules_run_due(now=late) == 0
    schedule.refresh_from_db()
    assert schedule.next_run == schedule.start + timedelta(days=4)
    assert Scan.objects.count() == 1


def test_a_one_time_schedule_runs_once_then_has_no_next_run(owner, lab, online, sent):
    online("lab-a")
    schedule = make(owner, lab, recurrence="once")
    assert services.schedules_run_due(now=schedule.start + timedelta(seconds=30)) == 1
    schedule.refresh_from_db()
    assert schedule.next_run is None
    assert services.schedules_run_due(now=schedule.start + timedelta(days=400)) == 0


def test_inactive_schedules_do_not_run(owner, lab, online, sent):
    schedule = make(owner, lab, active=False)
    assert services.schedules_run_due(now=schedule.start + timedelta(days=1)) == 0
    assert not Scan.objects.exists()


def test_a_refused_launch_records_the_error_and_still_advances(owner, lab, branch, sent):
    appliance = ApplianceFactory(name="lab-b", network=lab, last_seen=timezone.now())
    schedule = make(owner, lab, appliance=appliance)
    appliance.network = branch  # a Manager moves the appliance between runs
    appliance.save()
    due = schedule.start + timedelta(minutes=1)
    assert services.schedules_run_due(now=due) == 0
    schedule.refresh_from_db()
    assert "'lab-b' belongs to network 'Branch', not to 'Lab'" in schedule.last_error
    assert schedule.next_run == schedule.start + timedelta(days=1)
    assert schedule.last_scan is None
    assert not Scan.objects.exists() and not ScanSlice.objects.exists()  # nothing half-made
    assert not sent


def test_an_owner_who_may_no_longer_scan_launches_nothing(owner, lab, online, sent):
    online("lab-a")
    schedule = make(owner, lab)
    owner.role = Role.READER
    owner.save()
    assert services.schedules_run_due(now=schedule.start + timedelta(minutes=1)) == 0
    schedule.refresh_from_db()
    assert "'owner' may no longer launch scans" in schedule.last_error
    assert schedule.next_run > schedule.start and not Scan.objects.exists()


def updates(schedule):
    return AuditEntry.objects.filter(
        object_type="schedule", object_id=str(schedule.pk), action=AuditEntry.Action.UPDATE
    ).order_by("pk")


def test_an_edit_by_another_scanner_takes_the_schedule_over(owner, lab, online, sent):
    online("lab-a")
    colleague = UserFactory(username="colleague", role=Role.SCANNER)
    schedule = make(owner, lab)
    services.schedule_update(actor=owner, schedule=schedule, title="Nightly scan")
    assert "owner" not in updates(schedule).last().changes  # the owner's own edit
    schedule = services.schedule_update(actor=colleague, schedule=schedule, title="Taken over")
    assert schedule.owner == colleague
    entry = updates(schedule).last()
    assert entry.actor == colleague
    assert entry.changes["owner"] == ["owner", "colleague"]
    assert entry.changes["title"] == ["Nightly scan", "Taken over"]
    assert services.schedules_run_due(now=schedule.start + timedelta(minutes=1)) == 1
    assert Scan.objects.get().launched_by == colleague


def test_a_deactivated_owners_schedule_is_refused_until_a_manager_edits_it(
    owner, lab, online, sent
):
    online("lab-a")
    schedule = make(owner, lab)
    owner.is_active = False
    owner.save()
    first = schedule.start + timedelta(minutes=1)
    assert services.schedules_run_due(now=first) == 0
    schedule.refresh_from_db()
    assert schedule.last_error == (
        "Its owner 'owner' may no longer launch scans; edit it to take it over."
    )
    assert not Scan.objects.exists()
    # Still refused at the next run: nobody has taken it over yet.
    second = schedule.start + timedelta(days=1, minutes=1)
    assert services.schedules_run_due(now=second) == 0
    schedule.refresh_from_db()
    assert "'owner' may no longer launch scans" in schedule.last_error
    manager = UserFactory(username="boss", role=Role.MANAGER)
    services.schedule_update(actor=manager, schedule=schedule)  # saved without changes
    assert updates(schedule).last().changes == {"owner": ["owner", "boss"]}
    assert services.schedules_run_due(now=schedule.start + timedelta(days=2, minutes=1)) == 1
    schedule.refresh_from_db()
    scan = Scan.objects.get()
    assert scan.launched_by == manager and schedule.owner == manager
    assert schedule.last_error == "" and schedule.last_scan == scan


@pytest.mark.django_db(transaction=True)
def test_a_schedule_another_process_is_running_is_skipped_not_waited_for(owner, lab, online, sent):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    online("lab-a")
    schedule = make(owner, lab)
    due = schedule.start + timedelta(minutes=1)
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        from django.db import connection as own

        try:
            with transaction.atomic():
                list(Schedule.objects.select_for_update().filter(pk=schedule.pk))
                locked.set()
                release.wait(10)
        finally:
            own.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        assert services.schedules_run_due(now=due) == 0
    finally:
        release.set()
        thread.join()
    assert not Scan.objects.exists()
    assert services.schedules_run_due(now=due) == 1


def test_the_beat_task_runs_the_service(owner, lab, online, sent, monkeypatch):
    online("lab-a")
    schedule = make(owner, lab)
    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now() - timedelta(minutes=1))
    tasks.schedules_run_due()
    assert Scan.objects.get().schedule_id == schedule.pk


def test_moving_to_another_network_revalidates_targets(owner, lab, branch):
    schedule = make(owner, lab)
    with pytest.raises(ValidationError) as caught:
        services.schedule_update(actor=owner, schedule=schedule, network=branch)
    message = caught.value.message_dict["targets"][0]
    assert "127.0.0.1-127.0.0.4 is outside the address space of network 'Branch'" in message
    schedule.refresh_from_db()
    assert schedule.network == lab


def test_moving_refuses_an_appliance_or_asset_groups_of_the_old_network(owner, lab, branch):
    appliance = ApplianceFactory(name="lab-b", network=lab)
    group = AssetGroupFactory(title="Lab servers", network=lab)
    group.ip_ranges.create(
        start_key=iprange.ip_key("127.0.5.1"), end_key=iprange.ip_key("127.0.5.8")
    )
    schedule = make(owner, lab, appliance=appliance, asset_groups=[group])
    with pytest.raises(ValidationError) as caught:
        services.schedule_update(actor=owner, schedule=schedule, network=branch, targets="10.0.0.1")
    errors = caught.value.message_dict
    assert "'lab-b' belongs to network 'Lab', not to 'Branch'" in errors["appliance"][0]
    assert "Asset group 'Lab servers' belongs to network 'Lab'" in errors["asset_groups"][0]
    assert list(schedule.asset_groups.all()) == [group]


def test_a_moved_schedule_runs_in_its_new_network(owner, lab, branch, online, sent):
    online("branch-a", network=branch)
    schedule = make(owner, lab, appliance=online("lab-a"))
    services.schedule_update(
        actor=owner, schedule=schedule, network=branch, appliance=None, targets="10.0.0.1"
    )
    entry = AuditEntry.objects.get(object_type="schedule", action=AuditEntry.Action.UPDATE)
    assert entry.changes["network"] == ["Lab", "Branch"]
    assert entry.changes["scanner"] == ["lab-a", "All Scanners in Network"]
    schedule.refresh_from_db()
    assert schedule.next_run == schedule.start  # timing untouched
    services.schedules_run_due(now=schedule.start + timedelta(minutes=1))
    scan = Scan.objects.get()
    assert scan.network == branch and scan.targets == "10.0.0.1"
    assert scan.slices.get().appliance.name == "branch-a"


def test_reactivating_skips_the_runs_missed_while_paused(owner, lab):
    schedule = make(owner, lab, start=timezone.now() - timedelta(days=10, hours=1))
    services.schedule_update(actor=owner, schedule=schedule, active=False)
    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now() - timedelta(days=5))
    schedule = services.schedule_update(actor=owner, schedule=schedule, active=True)
    assert timezone.now() < schedule.next_run <= timezone.now() + timedelta(days=1)


def test_delete_keeps_its_scans_and_audits(owner, lab, online, sent):
    online("lab-a")
    schedule = make(owner, lab)
    services.schedules_run_due(now=schedule.start + timedelta(minutes=1))
    services.schedule_delete(actor=owner, schedule=schedule)
    assert not Schedule.objects.exists()
    assert Scan.objects.get().schedule is None
    assert AuditEntry.objects.filter(object_type="schedule", action="delete").exists()


# --- Pages ------------------------------------------------------------------------------


@pytest.fixture
def schedule(owner, lab):
    return make(owner, lab)


def form_data(network, **extra):
    start = timezone.localtime(timezone.now() + timedelta(days=1))
    return {
        "title": "From the form",
        "type": "discovery",
        "network": network.pk,
        "appliance": "",
        "targets": "127.0.0.1",
        "option_profile": services.option_profile_default().pk,
        "recurrence": "weekly",
        "start": start.strftime("%Y-%m-%dT%H:%M"),
        "active": "on",
        **extra,
    }


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [("reader", 200, 403), ("scanner", 200, 200), ("manager", 200, 200)],
)
def test_page_roles(client_as, schedule, role, read, write):
    client = client_as(role)
    for name in ("schedule_list", "schedule_detail"):
        args = [schedule.pk] if name != "schedule_list" else []
        assert client.get(reverse(f"scans:{name}", args=args)).status_code == read
    assert client.get(reverse("scans:schedule_create")).status_code == write
    assert client.get(reverse("scans:schedule_update", args=[schedule.pk])).status_code == write
    assert client.get(reverse("scans:schedule_delete", args=[schedule.pk])).status_code == write


def test_reader_sees_no_write_links_and_cannot_write(client_as, lab, schedule):
    client = client_as("reader")
    html = client.get(reverse("scans:schedule_list")).content.decode()
    assert "Nightly" in html and reverse("scans:schedule_create") not in html
    html = client.get(reverse("scans:schedule_detail", args=[schedule.pk])).content.decode()
    assert reverse("scans:schedule_update", args=[schedule.pk]) not in html
    assert reverse("scans:schedule_delete", args=[schedule.pk]) not in html
    assert client.post(reverse("scans:schedule_create"), form_data(lab)).status_code == 403
    url = reverse("scans:schedule_update", args=[schedule.pk])
    assert client.post(url, form_data(lab)).status_code == 403
    url = reverse("scans:schedule_delete", args=[schedule.pk])
    assert client.post(url).status_code == 403
    assert Schedule.objects.filter(pk=schedule.pk, title="Nightly").exists()


def test_anonymous_is_sent_to_login(client, schedule):
    for url in (
        reverse("scans:schedule_list"),
        reverse("scans:schedule_detail", args=[schedule.pk]),
        reverse("scans:schedule_create"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_scanner_creates_edits_and_deletes_through_the_pages(client_as, lab, branch):
    client = client_as("scanner")
    response = client.post(reverse("scans:schedule_create"), form_data(lab))
    schedule = Schedule.objects.get(title="From the form")
    assert response.status_code == 302 and response["Location"] == schedule.get_absolute_url()
    assert schedule.recurrence == "weekly" and schedule.network == lab
    assert schedule.owner.username == "scanner-user"
    response = client.post(
        reverse("scans:schedule_update", args=[schedule.pk]),
        form_data(branch, targets="10.0.0.0/30", title="Moved"),
    )
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.title, schedule.network, schedule.targets) == ("Moved", branch, "10.0.0.0/30")
    assert (
        "csrfmiddlewaretoken"
        in client.get(reverse("scans:schedule_delete", args=[schedule.pk])).content.decode()
    )
    response = client.post(reverse("scans:schedule_delete", args=[schedule.pk]))
    assert response.status_code == 302 and not Schedule.objects.exists()


def test_saving_the_edit_page_as_another_user_takes_the_schedule_over(client_as, schedule, lab):
    assert schedule.owner.username == "owner"
    response = client_as("manager").post(
        reverse("scans:schedule_update", args=[schedule.pk]), form_data(lab)
    )
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.owner.username == "manager-user"
    assert updates(schedule).last().changes["owner"] == ["owner", "manager-user"]


def test_form_errors_name_the_problem(client_as, lab, branch, schedule):
    client = client_as("scanner")
    response = client.post(
        reverse("scans:schedule_create"), form_data(lab, targets="127.0.0.1, 10.0.0.300")
    )
    assert response.status_code == 200
    assert "'10.0.0.300' is not an IP address" in response.context["form"].errors["targets"][0]
    assert "csrfmiddlewaretoken" in response.content.decode()
    response = client.post(reverse("scans:schedule_update", args=[schedule.pk]), form_data(branch))
    errors = response.context["form"].errors
    assert "127.0.0.1 is outside the address space of network 'Branch'" in errors["targets"][0]
    schedule.refresh_from_db()
    assert schedule.network == lab


def test_editing_a_one_time_schedule_that_ran_keeps_it_finished(
    client_as, owner, lab, branch, online, sent
):
    online("lab-a")
    schedule = make(owner, lab, recurrence="once", start=timezone.now() + timedelta(minutes=2))
    services.schedules_run_due(now=timezone.now() + timedelta(minutes=3))
    schedule.refresh_from_db()
    assert schedule.next_run is None
    client = client_as("scanner")
    url = reverse("scans:schedule_update", args=[schedule.pk])
    form = client.get(url).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data.update(network=branch.pk, targets="10.0.0.1", appliance="", active="on")
    data["start"] = form["start"].field.widget.format_value(form["start"].value())
    data["asset_groups"] = []
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    schedule.refresh_from_db()
    assert schedule.network == branch and schedule.next_run is None
    assert services.schedules_run_due(now=timezone.now() + timedelta(days=1)) == 0


def test_scanner_choices_follow_the_network_on_the_edit_page(client_as, lab, branch, schedule):
    ApplianceFactory(name="branch-a", network=branch)
    ApplianceFactory(name="lab-a", network=lab)
    response = client_as("scanner").get(
        reverse("scans:schedule_update", args=[schedule.pk]),
        {"network": branch.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="network-fields",
    )
    html = response.content.decode()
    assert "branch-a" in html and "lab-a" not in html and "<form" not in html


def test_detail_lists_the_schedules_scans(client_as, owner, lab, online, sent, schedule):
    online("lab-a")
    services.schedules_run_due(now=schedule.start + timedelta(minutes=1))
    scan = Scan.objects.get()
    html = client_as("reader").get(reverse("scans:schedule_detail", args=[schedule.pk]))
    assert scan.get_absolute_url() in html.content.decode()


def test_list_query_budget(client_as, owner, lab, online, sent, django_assert_max_num_queries):
    appliance = online("lab-a")
    for n in range(8):
        make(owner, lab, title=f"S{n}", appliance=appliance if n % 2 else None)
    services.schedules_run_due(now=timezone.now() + timedelta(hours=2))
    client = client_as("reader")
    with django_assert_max_num_queries(12):
        response = client.get(reverse("scans:schedule_list"))
    assert response.status_code == 200 and "S7" in response.content.decode()


# --- API --------------------------------------------------------------------------------


def body(network, **extra):
    return {
        "title": "API schedule",
        "type": "vulnerability",
        "network": network.pk,
        "appliance": None,
        "targets": "127.0.0.1-127.0.0.4",
        "asset_groups": [],
        "recurrence": "monthly",
        "start": (timezone.now() + timedelta(days=2)).isoformat(),
        **extra,
    }


def test_api_create_and_read(api_as, lab):
    response = api_as("scanner").post("/api/v1/schedules/", body(lab), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["recurrence"] == "monthly" and data["active"] is True
    assert data["next_run"] == data["start"] and data["network"] == lab.pk
    assert data["owner"] == "scanner-user"
    listing = api_as("reader").get("/api/v1/schedules/").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == data["id"]


def test_api_next_run_may_be_given_instead_of_start(api_as, lab):
    when = timezone.now() + timedelta(days=1)
    data = body(lab, next_run=when.isoformat(), recurrence="once")
    del data["start"]
    response = api_as("scanner").post("/api/v1/schedules/", data, format="json")
    assert response.status_code == 201, response.json()
    assert Schedule.objects.get().start == when.replace(second=0, microsecond=0)


def test_api_patch_moves_the_schedule_to_another_network(api_as, lab, branch):
    api = api_as("scanner")
    created = api.post("/api/v1/schedules/", body(lab), format="json").json()
    url = f"/api/v1/schedules/{created['id']}/"
    refused = api.patch(url, {"network": branch.pk}, format="json")
    assert refused.status_code == 400
    assert "outside the address space of network 'Branch'" in refused.json()["targets"][0]
    appliance = ApplianceFactory(name="branch-a", network=branch)
    moved = api.patch(
        url, {"network": branch.pk, "appliance": appliance.pk, "targets": "10.0.1.0/24"}, "json"
    )
    assert moved.status_code == 200, moved.json()
    assert moved.json()["network"] == branch.pk and moved.json()["appliance"] == appliance.pk
    other = ApplianceFactory(name="lab-z", network=lab)
    wrong = api.patch(url, {"appliance": other.pk}, format="json")
    assert wrong.status_code == 400
    assert "'lab-z' belongs to network 'Lab'" in wrong.json()["appliance"][0]


def test_api_patch_by_another_user_takes_the_schedule_over(api_as, schedule):
    response = api_as("scanner").patch(
        f"/api/v1/schedules/{schedule.pk}/", {"title": "Mine now"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["owner"] == "scanner-user"
    assert updates(schedule).last().changes["owner"] == ["owner", "scanner-user"]


def test_api_bad_targets_are_400_naming_the_token(api_as, lab):
    response = api_as("scanner").post(
        "/api/v1/schedules/", body(lab, targets="127.0.0.1, 10.0.0.300"), format="json"
    )
    assert response.status_code == 400
    assert "'10.0.0.300' is not an IP address" in response.json()["targets"][0]
    response = api_as("scanner").post(
        "/api/v1/schedules/", body(lab, recurrence="yearly"), format="json"
    )
    assert response.status_code == 400 and "recurrence" in response.json()
    assert not Schedule.objects.exists()


def test_api_roles(api_as, lab, schedule):
    url = f"/api/v1/schedules/{schedule.pk}/"
    reader = api_as("reader")
    assert reader.get(url).status_code == 200
    assert reader.post("/api/v1/schedules/", body(lab), format="json").status_code == 403
    assert reader.patch(url, {"title": "x"}, format="json").status_code == 403
    assert reader.delete(url).status_code == 403
    assert APIClient().get(url).status_code == 401
    assert APIClient().patch(url, {"title": "x"}, format="json").status_code == 401
    assert Schedule.objects.get().title == "Nightly"
    assert api_as("manager").delete(url).status_code == 204
    assert not Schedule.objects.exists()


def test_due_schedules_run_oldest_first_and_one_failing_does_not_stop_the_others(
    owner, lab, caplog
):
    """schedules_run_each, which scan and report schedules share."""
    from scans.services.schedules import schedules_run_each

    first, broken, last = (make(owner, lab, title=t) for t in ("First", "Broken", "Last"))
    for n, schedule in enumerate((first, broken, last)):
        Schedule.objects.filter(pk=schedule.pk).update(next_run=at(2030, 1, 1, n))
    later = make(owner, lab, title="Not yet")
    Schedule.objects.filter(pk=later.pk).update(next_run=at(2030, 1, 2))
    ran = []

    def run(schedule, now):
        ran.append(schedule.title)
        if schedule.title == "Broken":
            raise RuntimeError("the database went away")
        return True

    assert schedules_run_each(Schedule.objects.all(), run, now=at(2030, 1, 1, 12)) == 2
    assert ran == ["First", "Broken", "Last"]
    assert f"Schedule {broken.pk} could not be run" in caplog.text
