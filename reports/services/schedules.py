"""Report schedules: a template run over a target daily, weekly or monthly, and
e-mailed to chosen users.

Runs fall on the scan schedules' calendar (``scans.services.schedules.next_run_after``:
same time of day, weekly on the same weekday, monthly on the same day or the
month's last). ``report_schedules_run_due`` is called by the beat task every
minute; each run makes a Report owned by the schedule's owner, whose finished
file ``delivery.report_deliver`` sends. Why a run made or sent nothing is kept
in ``last_error`` and shown on the schedule's page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Role, User
from assets.models import AssetGroup, Tag
from core import iprange
from networks.models import Network
from networks.selectors import network_is_visible
from scans.services.schedules import next_run_after, schedule_stop, schedules_run_each

from ..models import (
    ReportDelivery,
    ReportFormat,
    ReportRecurrence,
    ReportSchedule,
    ReportTemplate,
)
from .generation import _resolve_network, report_create, scope_errors
from .templates import _require_role

logger = logging.getLogger(__name__)

# The period the first run's "new" and "fixed" count over; later runs count
# from the run before.
_FIRST_PERIOD = {
    ReportRecurrence.DAILY: timedelta(days=1),
    ReportRecurrence.WEEKLY: timedelta(days=7),
    ReportRecurrence.MONTHLY: timedelta(days=30),
}


def _may_change(actor: User, schedule: ReportSchedule) -> None:
    if not (actor.is_active and (actor.is_manager or schedule.owner_id == actor.pk)):
        raise PermissionDenied("Only the schedule's owner or a Manager may change it.")


def _validated(
    *,
    owner: User,
    title: str,
    template: ReportTemplate | None,
    format: str,
    asset_groups: list[AssetGroup],
    targets: str,
    network,
    tags: list[Tag],
    recurrence: str,
    start: datetime | None,
    recipients: list[User],
    delivery: str,
) -> dict:
    """The schedule's fields, normalised; raises naming every bad one."""
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = ["A report schedule needs a title."]
    if template is None:
        errors["template"] = ["Choose a report template."]
    if format not in ReportFormat.values:
        errors["format"] = [f"'{format}' is not a report format; use pdf, csv or html."]
    ranges: list[iprange.IPRange] = []
    try:
        ranges = iprange.parse(targets or "")
    except iprange.IPRangeError as error:
        errors["targets"] = error.messages
    target_network, network_errors = _resolve_network(network, owner=owner)
    errors.update(network_errors)
    errors.update(scope_errors(owner=owner, asset_groups=list(asset_groups)))
    if not asset_groups and not ranges and not tags and "targets" not in errors:
        errors["targets"] = ["Choose at least one target: asset groups, IPs/ranges or tags."]
    if recurrence not in ReportRecurrence.values:
        errors["recurrence"] = [
            f"'{recurrence}' is not a recurrence ({', '.join(ReportRecurrence.values)})."
        ]
    if start is None:
        errors["start"] = ["Give the date and time of the first run."]
    if delivery not in ReportDelivery.values:
        errors["delivery"] = [f"'{delivery}' is not a delivery; use attach or link."]
    refused = [
        f"{user.get_username()} is deactivated."
        if not user.is_active
        else f"{user.get_username()} has no e-mail address."
        for user in recipients
        if not user.is_active or not user.email
    ]
    if refused:
        errors["recipients"] = refused
    if errors:
        raise ValidationError(errors)
    return {
        "title": title,
        "template": template,
        "format": format,
        "targets": iprange.format_ranges(ranges),
        "target_network": target_network if ranges else None,
        "recurrence": recurrence,
        "start": start.replace(second=0, microsecond=0),
        "delivery": delivery,
    }


@transaction.atomic
def report_schedule_create(
    *,
    actor: User,
    title: str,
    template: ReportTemplate | None,
    recurrence: str,
    start: datetime | None,
    format: str = ReportFormat.PDF,
    asset_groups: Iterable[AssetGroup] = (),
    targets: str = "",
    network: Network | int | str | None = None,
    tags: Iterable[Tag] = (),
    recipients: Iterable[User] = (),
    delivery: str = ReportDelivery.ATTACH,
    active: bool = True,
) -> ReportSchedule:
    """Creates a report schedule owned by ``actor``. Every role may (every role
    runs reports). The target is checked as a report's; recipients must be
    active users with an e-mail address. The first run is ``start``, or the
    first run after now on its calendar when ``start`` has passed."""
    _require_role(actor, Role.READER, "schedule reports")
    asset_groups, tags, recipients = list(asset_groups), list(tags), list(recipients)
    fields = _validated(
        owner=actor,
        title=title,
        template=template,
        format=format,
        asset_groups=asset_groups,
        targets=targets,
        network=network,
        tags=tags,
        recurrence=recurrence,
        start=start,
        recipients=recipients,
        delivery=delivery,
    )
    schedule = ReportSchedule(owner=actor, active=bool(active), **fields)
    schedule.next_run = _first_run(schedule, timezone.now())
    schedule.save()
    schedule.asset_groups.set(asset_groups)
    schedule.tags.set(tags)
    schedule.recipients.set(recipients)
    return schedule


@transaction.atomic
def report_schedule_update(
    *,
    actor: User,
    schedule: ReportSchedule,
    title: str,
    template: ReportTemplate | None,
    recurrence: str,
    start: datetime | None,
    format: str = ReportFormat.PDF,
    asset_groups: Iterable[AssetGroup] = (),
    targets: str = "",
    network: Network | int | str | None = None,
    tags: Iterable[Tag] = (),
    recipients: Iterable[User] = (),
    delivery: str = ReportDelivery.ATTACH,
    active: bool = True,
) -> ReportSchedule:
    """Changes a schedule (its owner or a Manager); checked as on creation. The
    next run is worked out again; ``last_error`` is cleared (the next run says
    again if something is still wrong)."""
    _may_change(actor, schedule)
    asset_groups, tags, recipients = list(asset_groups), list(tags), list(recipients)
    fields = _validated(
        owner=schedule.owner or actor,
        title=title,
        template=template,
        format=format,
        asset_groups=asset_groups,
        targets=targets,
        network=network,
        tags=tags,
        recurrence=recurrence,
        start=start,
        recipients=recipients,
        delivery=delivery,
    )
    locked = ReportSchedule.objects.select_for_update().get(pk=schedule.pk)
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.active = bool(active)
    locked.last_error = ""
    locked.next_run = _first_run(locked, timezone.now())
    locked.save()
    locked.asset_groups.set(asset_groups)
    locked.tags.set(tags)
    locked.recipients.set(recipients)
    return locked


def report_schedule_delete(*, actor: User, schedule: ReportSchedule) -> None:
    """Deletes a schedule (its owner or a Manager); the reports it made stay."""
    _may_change(actor, schedule)
    schedule.delete()


def _first_run(schedule: ReportSchedule, now: datetime) -> datetime | None:
    if schedule.start >= now:
        return schedule.start
    return next_run_after(schedule, now)


def _lost_networks(schedule: ReportSchedule, owner: User) -> list[Network]:
    """The networks the schedule names (its IPs' network, its groups') that its
    owner may no longer see."""
    named = {g.network_id: g.network for g in schedule.asset_groups.select_related("network")}
    if schedule.target_network_id:
        named[schedule.target_network_id] = schedule.target_network
    return [n for pk, n in sorted(named.items()) if not network_is_visible(user=owner, network=pk)]


def _stop(schedule: ReportSchedule, lost: list[Network]) -> None:
    """Deactivates a schedule whose owner lost a network it names, saying why (audited)."""
    names = ", ".join(f"'{n.name}'" for n in lost)
    reason = (
        f"Stopped: its owner '{schedule.owner.get_username()}' no longer has access to "
        f"network {names}. Edit it to take it over."
    )
    schedule_stop(schedule, reason)


@transaction.atomic
def report_schedules_stop_for_lost_networks(*, user: User, network_ids: list[int]) -> int:
    """Stops ``user``'s active report schedules naming a network they no longer
    have access to (``networks.signals.network_access_lost``); returns how many.
    Schedules on "All" networks or on tags go on, within the user's networks."""
    stopped = 0
    candidates = ReportSchedule.objects.filter(owner=user, active=True).filter(
        Q(target_network_id__in=network_ids) | Q(asset_groups__network_id__in=network_ids)
    )
    for schedule in (
        ReportSchedule.objects.select_for_update(of=("self",))
        .select_related("owner", "target_network")
        .filter(pk__in=candidates.values("pk"))
    ):
        lost = _lost_networks(schedule, user)
        if lost:
            _stop(schedule, lost)
            stopped += 1
    return stopped


def _run_one(schedule: ReportSchedule, now: datetime) -> bool:
    """Queues one due schedule's report; records why not. Returns whether it did.

    The report is its owner's, within the owner's networks; an owner who lost
    a network the schedule names (however the grant changed) stops it, saying why."""
    owner = schedule.owner
    error, report = "", None
    if owner.is_active and (lost := _lost_networks(schedule, owner)):
        _stop(schedule, lost)
        return False
    if not owner.is_active:
        error = f"Its owner '{owner.get_username()}' is deactivated; a Manager may take it over."
    else:
        try:
            # report_create is atomic on its own: a refusal leaves no half-made report.
            report = report_create(
                actor=owner,
                title=f"{schedule.title} {timezone.localtime(now):%Y-%m-%d}",
                format=schedule.format,
                template=schedule.template,
                asset_groups=list(schedule.asset_groups.all()),
                targets=schedule.targets,
                network=schedule.target_network or "all",
                tags=list(schedule.tags.all()),
                period_start=schedule.last_run or now - _FIRST_PERIOD[schedule.recurrence],
                schedule=schedule,
            )
        except ValidationError as refusal:
            error = "The report was refused: " + " ".join(refusal.messages)
        except Exception as failure:  # one broken schedule must not stop the others
            logger.exception("Report schedule %s: the report could not be queued", schedule.pk)
            error = f"The report could not be queued: {failure}"
    fields = ["next_run", "last_error", "updated_at"]
    if report is not None:
        schedule.last_report, schedule.last_run = report, now
        fields += ["last_report", "last_run"]
    else:
        logger.warning("Report schedule %s made nothing: %s", schedule.pk, error)
    schedule.last_error = error
    schedule.next_run = next_run_after(schedule, now)
    schedule.save(update_fields=fields)
    return report is not None


def report_schedules_run_due(now: datetime | None = None) -> int:
    """Queues a report for every active schedule whose next run has come.

    Each schedule is handled in its own transaction with its row locked
    (schedules another process is running are skipped, not waited for).
    ``next_run`` moves to the first run after ``now``, so runs missed while the
    scheduler was down are skipped rather than made in a burst. Never raises;
    returns how many reports were queued.
    """
    return schedules_run_each(
        ReportSchedule.objects.select_related("owner", "template", "target_network"),
        _run_one,
        now=now or timezone.now(),
    )
