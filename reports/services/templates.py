"""Report templates: a named choice of sort, filters and options, and the rules
every report (and report schedule) keeps for them."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import Role, User

from ..models import (
    ALL_KINDS,
    ALL_SEVERITIES,
    ALL_STATUSES,
    DEFAULT_STATUSES,
    ReportSort,
    ReportTemplate,
)

OPTIONS = ("include_evidence", "include_details", "group_by_network")


def _clean_filters(
    *, sort: str, severities: Iterable, statuses: Iterable, kinds: Iterable
) -> tuple[dict, dict]:
    """The filters normalised (sorted, de-duplicated), and the errors naming bad values."""
    errors: dict[str, list[str]] = {}
    if sort not in ReportSort.values:
        errors["sort"] = [f"'{sort}' is not a sort order; use 'host' or 'vulnerability'."]
    clean_severities = []
    for value in severities:
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        if number not in ALL_SEVERITIES:
            errors.setdefault("severities", []).append(f"'{value}' is not a severity (1-5).")
        elif number not in clean_severities:
            clean_severities.append(number)
    clean_statuses = []
    for value in statuses:
        if value not in ALL_STATUSES:
            errors.setdefault("statuses", []).append(
                f"'{value}' is not a status; use {', '.join(ALL_STATUSES)}."
            )
        elif value not in clean_statuses:
            clean_statuses.append(value)
    clean_kinds = []
    for value in kinds:
        if value not in ALL_KINDS:
            errors.setdefault("kinds", []).append(
                f"'{value}' is not a vulnerability type; use {', '.join(ALL_KINDS)}."
            )
        elif value not in clean_kinds:
            clean_kinds.append(value)
    for field, values in (
        ("severities", clean_severities),
        ("statuses", clean_statuses),
        ("kinds", clean_kinds),
    ):
        if not values and field not in errors:
            errors[field] = ["Choose at least one."]
    cleaned = {
        "sort": sort,
        "severities": sorted(clean_severities, reverse=True),
        "statuses": [s for s in ALL_STATUSES if s in clean_statuses],
        "kinds": [k for k in ALL_KINDS if k in clean_kinds],
    }
    return cleaned, errors


def _clean_options(**options) -> tuple[dict, dict]:
    """The options as booleans (from forms, JSON or Python), and errors naming bad values."""
    cleaned, errors = {}, {}
    for name, value in options.items():
        if isinstance(value, bool):
            cleaned[name] = value
        elif isinstance(value, str) and value.strip().lower() in ("true", "false"):
            cleaned[name] = value.strip().lower() == "true"
        else:
            errors[name] = [f"'{value}' is not true or false."]
    return cleaned, errors


def _require_role(actor: User, role: str, what: str) -> None:
    if actor is None or not actor.has_role(role):
        raise PermissionDenied(f"Your role may not {what}.")


# --- report templates ---------------------------------------------------------------


def _check_template_title(title: str, *, exclude_pk: int | None = None) -> dict:
    title = title.strip()
    if not title:
        return {"title": ["A template needs a title."]}
    clash = ReportTemplate.objects.filter(title__iexact=title)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        return {"title": [f"A report template titled '{title}' already exists."]}
    return {}


@transaction.atomic
def report_template_create(
    *,
    actor: User,
    title: str,
    sort: str = ReportSort.HOST,
    severities: Iterable = ALL_SEVERITIES,
    statuses: Iterable = DEFAULT_STATUSES,
    kinds: Iterable = ALL_KINDS,
    description: str = "",
    include_evidence: bool = True,
    include_details: bool = True,
    group_by_network: bool = False,
) -> ReportTemplate:
    """Creates a report template. Managers and Scanners only; titles are unique
    (case-insensitive); every filter needs at least one value; the options are
    true or false."""
    _require_role(actor, Role.SCANNER, "create report templates")
    filters, errors = _clean_filters(
        sort=sort, severities=severities, statuses=statuses, kinds=kinds
    )
    options, option_errors = _clean_options(
        include_evidence=include_evidence,
        include_details=include_details,
        group_by_network=group_by_network,
    )
    errors.update(option_errors)
    errors.update(_check_template_title(title))
    if errors:
        raise ValidationError(errors)
    return ReportTemplate.objects.create(
        title=title.strip(), description=description, created_by=actor, **filters, **options
    )


@transaction.atomic
def report_template_update(
    *,
    actor: User,
    template: ReportTemplate,
    title: str,
    sort: str,
    severities: Iterable,
    statuses: Iterable,
    kinds: Iterable,
    description: str = "",
    include_evidence: bool | None = None,
    include_details: bool | None = None,
    group_by_network: bool | None = None,
) -> ReportTemplate:
    """Changes a template (options not given stay as they are). Reports already
    made keep the filters and options they were made with; schedules use the
    template as it is when they run."""
    _require_role(actor, Role.SCANNER, "change report templates")
    filters, errors = _clean_filters(
        sort=sort, severities=severities, statuses=statuses, kinds=kinds
    )
    given = {
        "include_evidence": include_evidence,
        "include_details": include_details,
        "group_by_network": group_by_network,
    }
    options, option_errors = _clean_options(**{k: v for k, v in given.items() if v is not None})
    errors.update(option_errors)
    errors.update(_check_template_title(title, exclude_pk=template.pk))
    if errors:
        raise ValidationError(errors)
    template.title = title.strip()
    template.description = description
    for field, value in {**filters, **options}.items():
        setattr(template, field, value)
    template.save()
    return template


@transaction.atomic
def report_template_delete(*, actor: User, template: ReportTemplate) -> None:
    """Deletes a template; the shipped defaults cannot be deleted."""
    _require_role(actor, Role.SCANNER, "delete report templates")
    if template.is_builtin:
        raise ValidationError(f"'{template.title}' ships with Enclave and cannot be deleted.")
    schedules = list(template.schedules.order_by("title").values_list("title", flat=True))
    if schedules:
        raise ValidationError(
            f"'{template.title}' is used by the report schedule"
            f"{'s' if len(schedules) > 1 else ''} {', '.join(schedules)}; "
            "change or delete them first."
        )
    template.delete()
