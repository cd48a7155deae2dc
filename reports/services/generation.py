"""Reports: queue one, make its file, delete it."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEntry, Role, User
from accounts.services import audit_record
from assets.models import AssetGroup, Tag
from console.queueing import enqueue_on_commit
from core import iprange
from networks.models import Network
from networks.selectors import network_is_visible, networks_visible

from ..models import (
    Report,
    ReportFormat,
    ReportSchedule,
    ReportSort,
    ReportStatus,
    ReportTemplate,
)
from .templates import _clean_filters, _clean_options, _require_role

logger = logging.getLogger(__name__)


# --- reports ------------------------------------------------------------------------


def _resolve_network(
    network: Network | int | str | None, *, owner: User | None
) -> tuple[Network | None, dict]:
    """``None``/"all" means every network of ``owner``'s; an id or a Network means
    that one, if ``owner`` may see it (otherwise it does not exist for them)."""
    if network is None:
        return None, {}
    if isinstance(network, Network):
        pk = network.pk
    elif isinstance(network, str) and network.strip().lower() in ("", "all"):
        return None, {}
    else:
        try:
            pk = int(network)
        except (TypeError, ValueError):
            return None, {"network": [f"'{network}' is not a network id or 'all'."]}
    found = networks_visible(user=owner).filter(pk=pk).first()
    if found is None:
        return None, {"network": [f"Network {pk} does not exist."]}
    return found, {}


def scope_errors(*, owner: User | None, asset_groups: list[AssetGroup]) -> dict:
    """Asset groups outside ``owner``'s networks, refused like ids that name nothing."""
    outside = [
        g.pk for g in asset_groups if not network_is_visible(user=owner, network=g.network_id)
    ]
    if not outside:
        return {}
    return {"asset_groups": [f"No asset group with id {', '.join(map(str, outside))}."]}


@transaction.atomic
def report_create(
    *,
    actor: User,
    title: str,
    format: str = ReportFormat.PDF,
    template: ReportTemplate | None = None,
    sort: str | None = None,
    severities: Iterable | None = None,
    statuses: Iterable | None = None,
    kinds: Iterable | None = None,
    asset_groups: Iterable[AssetGroup] = (),
    targets: str = "",
    network: Network | int | str | None = None,
    tags: Iterable[Tag] = (),
    include_evidence: bool | None = None,
    include_details: bool | None = None,
    group_by_network: bool | None = None,
    period_start: datetime | None = None,
    schedule: ReportSchedule | None = None,
) -> Report:
    """Queues a report; a Celery worker makes its file once this transaction commits.

    Any role may run reports. The target is any mix of asset groups (each keeps
    its own network), IPs/ranges in ``network`` (one network, or ``None``/"all"
    for every network; it narrows the IPs/ranges only) and tags; at least one is
    needed. Filters and options not given come from ``template`` (else: every
    severity, the open statuses, every type; evidence and details, not grouped).
    "New" and "fixed" on the cover count from ``period_start`` (else the 30 days
    before the report is made). Refuses bad tokens in ``targets``, naming them.
    """
    _require_role(actor, Role.READER, "run reports")
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = ["A report needs a title."]
    if format not in ReportFormat.values:
        errors["format"] = [f"'{format}' is not a report format; use pdf, csv or html."]
    source = template or ReportTemplate(sort=ReportSort.HOST)
    filters, filter_errors = _clean_filters(
        sort=sort if sort is not None else source.sort,
        severities=severities if severities is not None else source.severities,
        statuses=statuses if statuses is not None else source.statuses,
        kinds=kinds if kinds is not None else source.kinds,
    )
    errors.update(filter_errors)
    given = {
        "include_evidence": include_evidence,
        "include_details": include_details,
        "group_by_network": group_by_network,
    }
    options, option_errors = _clean_options(
        **{name: getattr(source, name) if value is None else value for name, value in given.items()}
    )
    errors.update(option_errors)
    ranges: list[iprange.IPRange] = []
    try:
        ranges = iprange.parse(targets or "")
    except iprange.IPRangeError as error:
        errors["targets"] = error.messages
    target_network, network_errors = _resolve_network(network, owner=actor)
    errors.update(network_errors)
    asset_groups, tags = list(asset_groups), list(tags)
    errors.update(scope_errors(owner=actor, asset_groups=asset_groups))
    if not asset_groups and not ranges and not tags and "targets" not in errors:
        errors.setdefault("targets", []).append(
            "Choose at least one target: asset groups, IPs/ranges or tags."
        )
    if errors:
        raise ValidationError(errors)
    report = Report.objects.create(
        title=title,
        owner=actor,
        template=template,
        format=format,
        targets=iprange.format_ranges(ranges),
        target_network=target_network if ranges else None,
        period_start=period_start,
        schedule=schedule,
        **filters,
        **options,
    )
    report.asset_groups.set(asset_groups)
    report.tags.set(tags)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=report,
        changes={"format": report.format, "sort": report.sort, "targets": report.targets},
    )
    report_id = report.pk
    enqueue_on_commit(
        lambda: _enqueue(report_id),
        what=f"report {report_id}",
        failed=lambda reason: _not_queued(report_id, reason),
    )
    return report


def report_downloaded(*, actor: User, report: Report) -> None:
    """Records who took a report's file, and when (the audit log)."""
    audit_record(
        actor=actor,
        action=AuditEntry.Action.DOWNLOAD,
        instance=report,
        changes={"format": report.format, "size": report.size},
    )


def _enqueue(report_id: int) -> None:
    from ..tasks import report_generate

    report_generate.delay(report_id)


def _not_queued(report_id: int, reason: str) -> None:
    """The broker did not take the report: it ends in error with the reason,
    and a schedule's report says so on its schedule, as one that failed."""
    from .delivery import report_deliver

    ended = Report.objects.filter(pk=report_id, status=ReportStatus.QUEUED).update(
        status=ReportStatus.ERROR, error=reason, finished_at=timezone.now()
    )
    if not ended:  # no longer waiting: whatever moved it on has said what became of it
        return
    report = Report.objects.select_related("schedule").get(pk=report_id)
    if report.schedule_id is not None:
        report_deliver(report=report)


def report_delete(*, actor: User, report: Report) -> None:
    """Deletes a report and its file. Its owner or a Manager only."""
    from ..selectors import report_is_visible

    if not report_is_visible(user=actor, report=report):
        raise PermissionDenied("Only the report's owner or a Manager may delete it.")
    directory = _report_dir(report.pk)
    with transaction.atomic():
        report.delete()
        # The file goes once the row is surely gone.
        transaction.on_commit(lambda: shutil.rmtree(directory, ignore_errors=True))


# --- generation ---------------------------------------------------------------------


def _report_dir(report_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "reports" / str(report_id)


def report_set_progress(*, report_id: int, progress: int) -> None:
    """Records progress at once (outside any transaction), so pages polling see it."""
    Report.objects.filter(pk=report_id, status=ReportStatus.RUNNING).update(
        progress=max(0, min(99, int(progress)))
    )


def report_generate(*, report: Report) -> Report:
    """Makes the report's file under MEDIA_ROOT and marks it finished.

    Safe to run again (``acks_late`` redelivery): it renders from scratch into a
    temporary file and replaces the previous one only when complete. A failure
    marks the report as an error with its reason, never a half-written file.
    """
    from ..renderers import render_report

    Report.objects.filter(pk=report.pk).update(
        status=ReportStatus.RUNNING, progress=0, error="", started_at=timezone.now()
    )
    report.refresh_from_db()
    directory = _report_dir(report.pk)
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".partial-{os.getpid()}.{report.format}"
    try:
        counts = render_report(
            report=report,
            path=partial,
            progress=lambda p: report_set_progress(report_id=report.pk, progress=p),
        )
        final = directory / report.download_filename
        os.replace(partial, final)
    except Exception as error:
        logger.exception("Report %s failed", report.pk)
        partial.unlink(missing_ok=True)
        Report.objects.filter(pk=report.pk).update(
            status=ReportStatus.ERROR,
            error=f"{type(error).__name__}: {error}"[:2000],
            finished_at=timezone.now(),
        )
        report.refresh_from_db()
        return report
    for stale in directory.iterdir():
        if stale != final and not stale.name.startswith(".partial-"):
            stale.unlink(missing_ok=True)
    updated = Report.objects.filter(pk=report.pk).update(
        status=ReportStatus.FINISHED,
        progress=100,
        file=str(final.relative_to(settings.MEDIA_ROOT)),
        size=final.stat().st_size,
        hosts_count=counts.hosts,
        findings_count=counts.findings,
        finished_at=timezone.now(),
    )
    if not updated:  # deleted while rendering
        shutil.rmtree(directory, ignore_errors=True)
        return report
    report.refresh_from_db()
    return report
