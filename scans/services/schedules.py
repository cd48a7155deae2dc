"""Scan schedules: create, change (network and appliance included), delete, run.

A schedule is validated exactly like a launch (targets inside the network's
address space, asset groups and appliance of that network), when it is saved
and again at every run, since networks, groups and appliances change between
runs. ``schedules_run_due`` is called by the beat task every minute.

A schedule's scans run as its owner: the user who created it, or the last
other user who edited it (the edit takes it over, and the audit entry says
so). A schedule whose owner may no longer launch scans (deactivated, or no
longer a Scanner) launches nothing, and says why in ``last_error``, until
someone edits it.
"""

import calendar
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEntry, Role, User
from accounts.services import audit_record
from assets.models import AssetGroup
from core import iprange
from networks.models import Network, ScannerAppliance
from networks.selectors import network_is_visible

from ..models import OptionProfile, Recurrence, Schedule
from .launch import scan_fields_errors, scan_launch
from .profiles import option_profile_default

logger = logging.getLogger(__name__)

_STEP_DAYS = {Recurrence.DAILY: 1, Recurrence.WEEKLY: 7}


def _add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, or that month's last day when it is shorter."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def schedule_zone(schedule) -> tzinfo:
    """The wall clock a schedule keeps: its owner's time zone (the one they typed
    the start in), so a daily 09:00 in Paris stays 09:00 in Paris across daylight
    saving whether the form or beat (in UTC) computes the next run; the server's
    without an owner or zone. Report schedules use it too."""
    name = getattr(getattr(schedule, "owner", None), "timezone", "") or ""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.get_default_timezone()


def _occurrence(schedule: Schedule, number: int) -> datetime:
    """The schedule's ``number``-th run (0: ``start``), on the local wall clock.

    Counted from ``start`` every time, so a run clamped to Feb 28 does not pull
    the later ones off the 31st, and a daily 02:00 run stays at 02:00 across
    daylight-saving changes.
    """
    zone = schedule_zone(schedule)
    wall = timezone.localtime(schedule.start, zone).replace(tzinfo=None)
    if schedule.recurrence == Recurrence.MONTHLY:
        wall = _add_months(wall, number)
    else:
        wall += timedelta(days=_STEP_DAYS[schedule.recurrence] * number)
    return timezone.make_aware(wall, zone)


def next_run_after(schedule: Schedule, now: datetime) -> datetime | None:
    """The schedule's first run strictly after ``now`` (``start`` while it lies ahead).

    None for a one-time schedule whose start has passed: it ran, or never will.
    Runs missed while nothing ran are skipped, not caught up.
    """
    if schedule.start > now:
        return schedule.start
    if schedule.recurrence == Recurrence.ONCE:
        return None
    zone = schedule_zone(schedule)
    local_start = timezone.localtime(schedule.start, zone)
    local_now = timezone.localtime(now, zone)
    if schedule.recurrence == Recurrence.MONTHLY:
        elapsed = (local_now.year - local_start.year) * 12 + local_now.month - local_start.month
    else:
        elapsed = (local_now.date() - local_start.date()).days // _STEP_DAYS[schedule.recurrence]
    number = max(0, elapsed - 1)
    candidate = _occurrence(schedule, number)
    while candidate <= now:
        number += 1
        candidate = _occurrence(schedule, number)
    return candidate


def _whole_minute(moment: datetime | None) -> datetime | None:
    # Runs are launched by a once-a-minute beat, and the form edits minutes:
    # seconds would only make an unchanged start look changed.
    return moment.replace(second=0, microsecond=0) if moment is not None else None


def _validated(
    *,
    actor: User | None,
    title: str,
    type: str,
    network: Network,
    appliance: ScannerAppliance | None,
    targets: str,
    asset_groups: list[AssetGroup],
    recurrence: str,
    start: datetime | None,
) -> tuple[str, str]:
    """Checks a schedule as a launch would be checked; returns (title, normalised targets)."""
    title = (title or "").strip()
    errors, _ = scan_fields_errors(
        actor=actor,
        noun="schedule",
        title=title,
        type=type,
        network=network,
        appliance=appliance,
        targets=targets,
        asset_groups=asset_groups,
    )
    if recurrence not in Recurrence.values:
        errors["recurrence"] = [
            f"'{recurrence}' is not a recurrence ({', '.join(Recurrence.values)})."
        ]
    if start is None:
        errors["start"] = ["Give the date and time of the first run."]
    if errors:
        raise ValidationError(errors)
    return title, iprange.format_ranges(iprange.parse(targets or ""))


def _first_run(schedule: Schedule, now: datetime, *, start_changed: bool) -> datetime | None:
    if schedule.recurrence == Recurrence.ONCE and start_changed and schedule.start <= now:
        raise ValidationError({"start": ["A one-time schedule needs a start in the future."]})
    if schedule.start >= now:
        return schedule.start
    return next_run_after(schedule, now)


def _audit_view(schedule: Schedule, asset_groups: Iterable[AssetGroup]) -> dict:
    return {
        "title": schedule.title,
        "type": schedule.type,
        "network": schedule.network.name,
        "scanner": schedule.scanner_display,
        "targets": schedule.targets,
        "asset_groups": sorted(g.title for g in asset_groups),
        "option_profile": schedule.option_profile.name,
        "recurrence": schedule.recurrence,
        "start": schedule.start.isoformat() if schedule.start else None,
        "active": schedule.active,
        "owner": schedule.owner.get_username() if schedule.owner else None,
    }


@transaction.atomic
def schedule_create(
    *,
    actor: User | None,
    title: str,
    type: str,
    network: Network,
    recurrence: str,
    start: datetime | None,
    appliance: ScannerAppliance | None = None,
    targets: str = "",
    asset_groups: Iterable[AssetGroup] = (),
    option_profile: OptionProfile | None = None,
    active: bool = True,
) -> Schedule:
    """Creates a schedule owned by ``actor``; its scans run as that user
    (until another user edits it and so takes it over).

    ``start`` is kept to the minute.
    Refuses (ValidationError naming the field) what a launch refuses, an
    unknown recurrence, a missing start, and a one-time start in the past.
    """
    asset_groups = list(asset_groups)
    start = _whole_minute(start)
    title, typed = _validated(
        actor=actor,
        title=title,
        type=type,
        network=network,
        appliance=appliance,
        targets=targets,
        asset_groups=asset_groups,
        recurrence=recurrence,
        start=start,
    )
    schedule = Schedule(
        title=title,
        type=type,
        network=network,
        appliance=appliance,
        targets=typed,
        option_profile=option_profile or option_profile_default(),
        recurrence=recurrence,
        start=start,
        active=active,
        owner=actor if actor is not None and actor.pk else None,
    )
    schedule.next_run = _first_run(schedule, timezone.now(), start_changed=True)
    schedule.save()
    schedule.asset_groups.set(asset_groups)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=schedule,
        changes=_audit_view(schedule, asset_groups),
    )
    return schedule


_UNSET = object()


@transaction.atomic
def schedule_update(
    *,
    actor: User | None,
    schedule: Schedule,
    title=_UNSET,
    type=_UNSET,
    network=_UNSET,
    appliance=_UNSET,
    targets=_UNSET,
    asset_groups=_UNSET,
    option_profile=_UNSET,
    recurrence=_UNSET,
    start=_UNSET,
    active=_UNSET,
) -> Schedule:
    """Changes what the caller gives; the rest stays. Network and appliance may change.

    The result is validated as a whole like a launch: moving a schedule to
    another network is refused while it keeps asset groups (named in the
    message) or an appliance of the old network, or targets outside the new
    network's address space. ``next_run`` is worked out again when the start,
    recurrence or active flag change (a one-time schedule that already ran
    stays finished unless its start moves into the future).

    An edit by a user other than the owner makes that user the owner (the
    audit entry records ``owner: [old, new]``): the next runs launch as the
    editor, so a schedule left by a deactivated owner runs again once
    someone edits it.
    """
    locked = Schedule.objects.select_for_update().get(pk=schedule.pk)
    before = _audit_view(locked, locked.asset_groups.all())
    given = {
        "title": title,
        "type": type,
        "network": network,
        "appliance": appliance,
        "targets": targets,
        "option_profile": option_profile,
        "recurrence": recurrence,
        "start": start,
        "active": active,
    }
    if start is not _UNSET:
        start = _whole_minute(start)
    start_changed = start is not _UNSET and start != locked.start
    timing_changed = (
        start_changed
        or (recurrence is not _UNSET and recurrence != locked.recurrence)
        or (active is not _UNSET and active != locked.active)
    )
    for field, value in given.items():
        if value is not _UNSET:
            setattr(locked, field, value)
    if option_profile is not _UNSET and option_profile is None:
        locked.option_profile = option_profile_default()
    groups = list(locked.asset_groups.all() if asset_groups is _UNSET else asset_groups)
    errors: dict[str, list[str]] = {}
    try:
        locked.title, locked.targets = _validated(
            actor=actor,
            title=locked.title,
            type=locked.type,
            network=locked.network,
            appliance=locked.appliance,
            targets=locked.targets,
            asset_groups=groups,
            recurrence=locked.recurrence,
            start=locked.start,
        )
    except ValidationError as error:
        errors.update(error.message_dict)
    if "asset_groups" in errors and asset_groups is _UNSET:
        errors["asset_groups"].append(
            f"Remove them from the schedule to move it to network '{locked.network.name}'."
        )
    if not errors and timing_changed:
        try:
            locked.next_run = _first_run(locked, timezone.now(), start_changed=start_changed)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    if actor is not None and actor.pk and actor.pk != locked.owner_id:
        locked.owner = actor
    locked.save()
    if asset_groups is not _UNSET:
        locked.asset_groups.set(groups)
    after = _audit_view(locked, groups)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=locked, changes=changes)
    return locked


@transaction.atomic
def schedule_delete(*, actor: User | None, schedule: Schedule) -> None:
    """Deletes a schedule; the scans it launched stay (no longer linked to it)."""
    audit_record(
        actor=actor,
        action=AuditEntry.Action.DELETE,
        instance=schedule,
        changes=_audit_view(schedule, schedule.asset_groups.all()),
    )
    schedule.delete()


def _owner_refusal(owner: User | None) -> str:
    if owner is None:
        return "The schedule has no owner any more; edit it to take it over."
    if not owner.is_active or not owner.has_role(Role.SCANNER):
        return (
            f"Its owner '{owner.get_username()}' may no longer launch scans; "
            "edit it to take it over."
        )
    return ""


def _lost_network_reason(owner: User, network: Network) -> str:
    return (
        f"Stopped: its owner '{owner.get_username()}' no longer has access to network "
        f"'{network.name}'. Edit it to take it over."
    )


def schedule_stop(schedule, reason: str) -> None:
    """Deactivates a schedule (scan or report: both keep active, last_error and
    updated_at) whose owner lost its network, saying why (audited)."""
    schedule.active = False
    schedule.last_error = reason
    schedule.save(update_fields=["active", "last_error", "updated_at"])
    audit_record(
        actor=None,
        action=AuditEntry.Action.UPDATE,
        instance=schedule,
        changes={"active": [True, False], "reason": reason},
    )


@transaction.atomic
def schedules_stop_for_lost_networks(*, user: User, network_ids: list[int]) -> int:
    """Stops ``user``'s active schedules in networks they no longer have access to
    (``networks.signals.network_access_lost``); returns how many."""
    stopped = 0
    for schedule in (
        Schedule.objects.select_for_update(of=("self",))
        .select_related("network")
        .filter(owner=user, network_id__in=network_ids, active=True)
    ):
        schedule_stop(schedule, _lost_network_reason(user, schedule.network))
        stopped += 1
    return stopped


def _run_one(schedule: Schedule, now: datetime) -> bool:
    """Launches one due schedule's scan; records why not. Returns whether a scan started.

    It runs as its owner, within the owner's networks: an owner who lost the
    schedule's network (however the grant changed) stops it, saying why."""
    scan = None
    error = _owner_refusal(schedule.owner)
    if not error and not network_is_visible(user=schedule.owner, network=schedule.network):
        schedule_stop(schedule, _lost_network_reason(schedule.owner, schedule.network))
        return False
    if not error:
        try:
            # scan_launch is atomic on its own: a refused or failed launch
            # rolls back to its savepoint and leaves no half-made scan.
            scan = scan_launch(
                actor=schedule.owner,
                title=schedule.title,
                type=schedule.type,
                network=schedule.network,
                appliance=schedule.appliance,
                targets=schedule.targets,
                asset_groups=list(schedule.asset_groups.all()),
                option_profile=schedule.option_profile,
                schedule=schedule,
            )
        except ValidationError as refusal:
            error = " ".join(refusal.messages)
        except Exception as failure:  # one broken schedule must not stop the others
            logger.exception("Schedule %s: launch failed", schedule.pk)
            error = f"The launch failed: {failure}"
    fields = ["next_run", "last_error", "updated_at"]
    if scan is not None:
        schedule.last_scan = scan
        fields.append("last_scan")
    else:
        logger.warning("Schedule %s launched nothing: %s", schedule.pk, error)
    schedule.last_error = error
    schedule.next_run = next_run_after(schedule, now)
    schedule.save(update_fields=fields)
    return scan is not None


def schedules_run_due(now: datetime | None = None) -> int:
    """Launches a scan for every active schedule whose next run has come.

    Each schedule is handled in its own transaction, with its row locked
    (schedules another process is running are skipped, not waited for).
    ``next_run`` moves to the first run after ``now``, so missed runs are
    skipped rather than launched in a burst. A refused launch is recorded in
    ``last_error`` and still advances. Never raises; returns how many scans started.
    """
    return schedules_run_each(
        Schedule.objects.select_related("network", "appliance__network", "option_profile", "owner"),
        _run_one,
        now=now or timezone.now(),
    )


def schedules_run_each(schedules, run, *, now: datetime) -> int:
    """Calls ``run(schedule, now)`` for every active schedule of ``schedules`` (a
    queryset of scan or report schedules) whose next run has come, oldest first,
    each in its own transaction with its row locked: a schedule another process
    is running is skipped, not waited for, and one that fails (the database
    went away mid-run, say) is logged and left for the next tick. Never
    raises; returns how many runs ``run`` says it made."""
    due = list(
        schedules.filter(active=True, next_run__lte=now)
        .order_by("next_run", "pk")
        .values_list("pk", flat=True)
    )
    made = 0
    for pk in due:
        try:
            with transaction.atomic():
                schedule = (
                    schedules.select_for_update(skip_locked=True, of=("self",))
                    .filter(pk=pk, active=True, next_run__lte=now)
                    .first()
                )
                if schedule is not None and run(schedule, now):
                    made += 1
        except Exception:
            logger.exception("%s %s could not be run", schedules.model.__name__, pk)
    return made
