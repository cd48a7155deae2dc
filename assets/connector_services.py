"""Every write to cloud connectors and their runs (the hosts a run makes: cloud_sync).

Credentials are sealed with ``ENCLAVE_CONNECTOR_KEY`` (Fernet) before they
touch the database and opened only inside a run. They are never returned,
rendered, audited or logged: the audit log says "credentials replaced",
pages and the API show ``credentials_hint`` ("access key …FUEL"). Without a
key no connector can be given credentials: the service refuses with a
message that says what to set. (Deriving one from DJANGO_SECRET_KEY would
tie the credentials to a key that is rotated for other reasons, and workers
run without it.)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditEntry, User
from accounts.services import audit_record
from networks.models import Network, NetworkKind

from .cloud_sync import cloud_instances_sync
from .connectors import CLIENTS
from .connectors.aws import AwsSettings
from .connectors.azure import AzureSettings
from .connectors.base import ConnectorError, tail
from .connectors.sealing import SecretKeyError, check_keys, seal, unseal
from .models import (
    SCHEDULE_INTERVALS,
    Connector,
    ConnectorKind,
    ConnectorMapping,
    ConnectorRun,
    ConnectorRunStatus,
    ConnectorSchedule,
)

logger = logging.getLogger(__name__)

CREDENTIAL_FIELDS = {
    ConnectorKind.AWS_EC2: ("access_key_id", "secret_access_key", "role_arn"),
    ConnectorKind.AZURE: ("tenant_id", "client_id", "client_secret"),
}
REQUIRED_CREDENTIALS = {
    ConnectorKind.AWS_EC2: ("access_key_id", "secret_access_key"),
    ConnectorKind.AZURE: ("tenant_id", "client_id", "client_secret"),
}
AWS_REGION = re.compile(r"\A[a-z]{2}(-[a-z]+)+-\d{1,2}\Z")
AZURE_SUBSCRIPTION = re.compile(r"\A[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\Z")
ROLE_ARN = re.compile(r"\Aarn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}\Z")
# A run still queued or running after this long was lost (worker killed): it no
# longer blocks a new one. Longer than the longest task (CELERY_TASK_TIME_LIMIT).
STALE_AFTER = timedelta(hours=4)
_SPLIT = re.compile(r"[,\s]+")


# --- Validation ------------------------------------------------------------------------


def parse_scopes(kind: str, value: str | Iterable[str]) -> list[str]:
    """Regions or subscription ids from a list or a comma/newline string; a
    ValidationError names every one that is not."""
    items = _SPLIT.split(value) if isinstance(value, str) else [str(v) for v in value]
    items = [i.strip() for i in items if i and i.strip()]
    field = "regions" if kind == ConnectorKind.AWS_EC2 else "subscriptions"
    if kind == ConnectorKind.AWS_EC2:
        items = [i.lower() for i in items]
        bad = [
            f"'{i}' is not an AWS region (e.g. eu-west-1)" for i in items if not AWS_REGION.match(i)
        ]
    else:
        bad = [
            f"'{i}' is not an Azure subscription id (a GUID)"
            for i in items
            if not AZURE_SUBSCRIPTION.match(i)
        ]
        items = [i.lower() for i in items]
    if bad:
        raise ValidationError({field: bad})
    if not items:
        raise ValidationError({field: [f"List at least one of the {field} to read."]})
    return list(dict.fromkeys(items))


def _url(value: str, *, field: str, https_only: bool) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    schemes = ["https"] if https_only else ["http", "https"]
    try:
        URLValidator(schemes=schemes)(value)
    except ValidationError:
        need = "an https:// URL" if https_only else "an http:// or https:// URL"
        raise ValidationError({field: [f"'{value}' is not {need}."]}) from None
    return value.rstrip("/")


def _collect(*checks) -> list:
    errors: dict[str, list[str]] = {}
    results = []
    for check in checks:
        try:
            results.append(check())
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                errors.setdefault(key, []).extend(messages)
            results.append(None)
    if errors:
        raise ValidationError(errors)
    return results


def _check_name(name: str, *, exclude_pk: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["A connector needs a name."]})
    if len(name) > 100:
        raise ValidationError({"name": ["The name is too long (100 characters at most)."]})
    clash = Connector.objects.filter(name__iexact=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": [f"A connector named '{name}' already exists."]})
    return name


def _endpoints(kind: str, values: dict[str, str | None]) -> dict[str, str]:
    """The kind's endpoint settings, checked; the other kind's must stay empty."""
    own = {
        ConnectorKind.AWS_EC2: {"endpoint_url": False},
        ConnectorKind.AZURE: {"authority_host": True, "resource_manager_url": True},
    }[kind]
    errors: dict[str, list[str]] = {}
    out: dict[str, str] = {}
    for field, value in values.items():
        if value is None:
            continue
        if field not in own:
            if value.strip():
                errors[field] = [
                    f"Only {'Azure' if kind == 'aws_ec2' else 'AWS'} connectors take this."
                ]
            continue
        try:
            out[field] = _url(value, field=field, https_only=own[field])
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return out


def _check_credentials(kind: str, given: dict[str, str], *, creating: bool) -> dict[str, str]:
    fields = CREDENTIAL_FIELDS[kind]
    other = [f for f in given if f not in fields and given[f]]
    errors: dict[str, list[str]] = {
        f: [f"{ConnectorKind(kind).label} connectors do not take {f}."] for f in other
    }
    values = {f: (given.get(f) or "").strip() for f in fields if f in given}
    if creating:
        for field in REQUIRED_CREDENTIALS[kind]:
            if not values.get(field):
                errors[field] = ["This field is required."]
    role = values.get("role_arn")
    if role and not ROLE_ARN.match(role):
        errors["role_arn"] = [
            f"'{role}' is not an IAM role ARN (arn:aws:iam::123456789012:role/name)."
        ]
    if errors:
        raise ValidationError(errors)
    return values


def _key_or_refuse() -> str:
    keys = settings.ENCLAVE_CONNECTOR_KEY
    try:
        check_keys(keys)
    except SecretKeyError as error:
        raise ValidationError(
            {
                "credentials": [
                    f"Credentials cannot be stored: {error}. Set ENCLAVE_CONNECTOR_KEY on the "
                    "web server and the workers (README: Cloud connectors), then save again."
                ]
            }
        ) from None
    return keys


def _hint(kind: str, values: dict[str, str]) -> str:
    if kind == ConnectorKind.AWS_EC2:
        hint = f"access key {tail(values.get('access_key_id', ''))}"
        return hint + (", assumes a role" if values.get("role_arn") else "")
    return (
        f"client {tail(values.get('client_id', ''))} in tenant {tail(values.get('tenant_id', ''))}"
    )


def _mappings(connector_kind: str, mappings: Iterable[dict]) -> list[tuple[str, Network]]:
    """[(cloud network id, network)], checked: ids given once, custom networks."""
    out: list[tuple[str, Network]] = []
    errors: list[str] = []
    seen: set[str] = set()
    noun = "VPC" if connector_kind == ConnectorKind.AWS_EC2 else "VNet"
    for index, mapping in enumerate(mappings, start=1):
        cloud = str(mapping.get("vpc") or mapping.get("cloud_network") or "").strip()
        network = mapping.get("network")
        if not cloud:
            errors.append(f"Mapping {index}: give the {noun} id.")
            continue
        if connector_kind == ConnectorKind.AWS_EC2 and not re.fullmatch(
            r"vpc-[0-9a-f]{1,32}", cloud
        ):
            errors.append(f"Mapping {index}: '{cloud}' is not a VPC id (vpc-…).")
            continue
        if connector_kind == ConnectorKind.AZURE and "/virtualnetworks/" not in cloud.lower():
            errors.append(
                f"Mapping {index}: '{cloud}' is not a VNet resource id "
                "(/subscriptions/…/providers/Microsoft.Network/virtualNetworks/…)."
            )
            continue
        cloud = cloud.lower()
        if cloud in seen:
            errors.append(f"Mapping {index}: {cloud} is mapped twice.")
            continue
        seen.add(cloud)
        if network in (None, ""):
            errors.append(f"Mapping {index}: choose the network for {cloud}.")
            continue
        if not isinstance(network, Network):
            network = Network.objects.filter(pk=network).first() if str(network).isdigit() else None
        if network is None:
            errors.append(f"Mapping {index}: no network with id {mapping.get('network')!r}.")
            continue
        if network.kind != NetworkKind.CUSTOM:
            cloud_global = (
                "Global EC2" if connector_kind == ConnectorKind.AWS_EC2 else "Global Azure"
            )
            errors.append(
                f"Mapping {index}: map a {noun} to a custom network ({network.name} is built in; "
                f"unmapped {noun}s go to {cloud_global})."
            )
            continue
        out.append((cloud, network))
    if errors:
        raise ValidationError({"mappings": errors})
    return out


def _set_mappings(connector: Connector, mappings: list[tuple[str, Network]]) -> None:
    connector.mappings.all().delete()
    ConnectorMapping.objects.bulk_create(
        ConnectorMapping(connector=connector, cloud_network=cloud, network=network)
        for cloud, network in mappings
    )


def _mapping_view(mappings: list[tuple[str, Network]]) -> list[str]:
    return [f"{cloud} → {network.name}" for cloud, network in mappings]


def _first_run(schedule: str, now: datetime) -> datetime | None:
    return None if schedule == ConnectorSchedule.MANUAL else now


# --- Connectors --------------------------------------------------------------------------


@transaction.atomic
def connector_create(
    *,
    actor: User | None,
    name: str,
    kind: str,
    credentials: dict[str, str],
    scopes: str | Iterable[str],
    endpoint_url: str = "",
    authority_host: str = "",
    resource_manager_url: str = "",
    mappings: Iterable[dict] = (),
    schedule: str = ConnectorSchedule.DAILY,
) -> Connector:
    """Creates a connector; its first scheduled run comes at the next beat tick.

    Refuses (naming the field): a name another connector has, an unknown kind
    or schedule, regions / subscription ids that are not, URLs that are not
    (Azure's must be https: the SDK sends tokens only over TLS), missing
    credentials, mappings to unknown or built-in networks, and any credentials
    at all while ENCLAVE_CONNECTOR_KEY is not set.
    """
    if kind not in ConnectorKind.values:
        raise ValidationError(
            {"kind": [f"'{kind}' is not a connector kind ({', '.join(ConnectorKind.values)})."]}
        )
    mappings = list(mappings)
    name, scope_list, urls, values, mapped, _ = _collect(
        lambda: _check_name(name),
        lambda: parse_scopes(kind, scopes),
        lambda: _endpoints(
            kind,
            {
                "endpoint_url": endpoint_url,
                "authority_host": authority_host,
                "resource_manager_url": resource_manager_url,
            },
        ),
        lambda: _check_credentials(kind, credentials, creating=True),
        lambda: _mappings(kind, mappings),
        lambda: _check_schedule(schedule),
    )
    keys = _key_or_refuse()
    connector = Connector(
        name=name,
        kind=kind,
        scopes=scope_list,
        schedule=schedule,
        credentials_sealed=seal(values, keys),
        credentials_hint=_hint(kind, values),
        next_run=_first_run(schedule, timezone.now()),
        **urls,
    )
    try:
        with transaction.atomic():
            connector.save()
    except IntegrityError:
        raise ValidationError({"name": [f"A connector named '{name}' already exists."]}) from None
    _set_mappings(connector, mapped)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=connector,
        changes={
            "kind": kind,
            connector.scope_noun: scope_list,
            **urls,
            "mappings": _mapping_view(mapped),
            "schedule": schedule,
            "credentials": "set",
        },
    )
    return connector


def _check_schedule(schedule: str) -> str:
    if schedule not in ConnectorSchedule.values:
        raise ValidationError(
            {
                "schedule": [
                    f"'{schedule}' is not a schedule ({', '.join(ConnectorSchedule.values)})."
                ]
            }
        )
    return schedule


@transaction.atomic
def connector_update(
    *,
    actor: User | None,
    connector: Connector,
    name: str | None = None,
    kind: str | None = None,
    credentials: dict[str, str] | None = None,
    scopes: str | Iterable[str] | None = None,
    endpoint_url: str | None = None,
    authority_host: str | None = None,
    resource_manager_url: str | None = None,
    mappings: Iterable[dict] | None = None,
    schedule: str | None = None,
) -> Connector:
    """Changes what the caller gives. Credentials given replace the stored ones
    field by field (a new secret alone keeps the key id); empty ones keep them.

    Refuses a change of kind (its instances are of that cloud), and what
    connector_create refuses.
    """
    connector = Connector.objects.select_for_update().get(pk=connector.pk)
    if kind is not None and kind != connector.kind:
        raise ValidationError(
            {
                "kind": [
                    f"A connector's kind is fixed: {connector.name} stays "
                    f"{connector.get_kind_display()}."
                ]
            }
        )
    given_credentials = {k: v for k, v in (credentials or {}).items() if v is not None}
    # Blank fields keep the stored value, except role_arn, which "" clears.
    given_credentials = {k: v for k, v in given_credentials.items() if v.strip() or k == "role_arn"}

    def skip():
        return None

    new_name, scope_list, urls, values, mapped, _ = _collect(
        (lambda: _check_name(name, exclude_pk=connector.pk)) if name is not None else skip,
        (lambda: parse_scopes(connector.kind, scopes)) if scopes is not None else skip,
        lambda: _endpoints(
            connector.kind,
            {
                "endpoint_url": endpoint_url,
                "authority_host": authority_host,
                "resource_manager_url": resource_manager_url,
            },
        ),
        (lambda: _check_credentials(connector.kind, given_credentials, creating=False))
        if given_credentials
        else skip,
        (lambda: _mappings(connector.kind, list(mappings))) if mappings is not None else skip,
        (lambda: _check_schedule(schedule)) if schedule is not None else skip,
    )
    changes: dict[str, object] = {}
    if new_name is not None and new_name != connector.name:
        changes["name"] = [connector.name, new_name]
        connector.name = new_name
    if scope_list is not None and scope_list != connector.scopes:
        changes[connector.scope_noun] = [connector.scopes, scope_list]
        connector.scopes = scope_list
    for field, value in urls.items():
        if value != getattr(connector, field):
            changes[field] = [getattr(connector, field), value]
            setattr(connector, field, value)
    if values:
        keys = _key_or_refuse()
        try:
            stored = unseal(connector.credentials_sealed, keys)
        except SecretKeyError:
            stored = {}  # the old key is lost: what is given now must be complete
        merged = {**stored, **values}
        missing = [f for f in REQUIRED_CREDENTIALS[connector.kind] if not merged.get(f)]
        if missing:
            raise ValidationError({f: ["This field is required."] for f in missing})
        connector.credentials_sealed = seal(merged, keys)
        connector.credentials_hint = _hint(connector.kind, merged)
        changes["credentials"] = f"replaced: {', '.join(sorted(values))}"
    if schedule is not None and schedule != connector.schedule:
        changes["schedule"] = [connector.schedule, schedule]
        connector.schedule = schedule
        interval = SCHEDULE_INTERVALS.get(schedule)
        last = connector.last_run.created_at if connector.last_run else None
        connector.next_run = (
            None
            if interval is None
            else max(timezone.now(), (last + interval) if last else timezone.now())
        )
    try:
        with transaction.atomic():
            connector.save()
    except IntegrityError:
        raise ValidationError(
            {"name": [f"A connector named '{connector.name}' already exists."]}
        ) from None
    if mapped is not None:
        before = [
            f"{m.cloud_network} → {m.network.name}"
            for m in connector.mappings.select_related("network")
        ]
        after = _mapping_view(mapped)
        if sorted(before) != sorted(after):
            _set_mappings(connector, mapped)
            changes["mappings"] = [before, after]
    if changes:
        audit_record(
            actor=actor, action=AuditEntry.Action.UPDATE, instance=connector, changes=changes
        )
    return connector


@transaction.atomic
def connector_delete(*, actor: User | None, connector: Connector) -> None:
    """Deletes a connector, its runs and its instance records. The hosts it made
    stay, as plain hosts of their networks (with their findings)."""
    audit_record(
        actor=actor,
        action=AuditEntry.Action.DELETE,
        instance=connector,
        changes={"kind": connector.kind, "instances": connector.instances.count()},
    )
    Connector.objects.filter(pk=connector.pk).update(last_run=None)
    connector.delete()


# --- Runs --------------------------------------------------------------------------------


def _active_run(connector: Connector, now: datetime) -> ConnectorRun | None:
    active = connector.runs.filter(
        status__in=[ConnectorRunStatus.QUEUED, ConnectorRunStatus.RUNNING]
    ).order_by("-created_at")
    for run in active:
        if run.created_at > now - STALE_AFTER:
            return run
        run.status, run.error, run.finished_at = (
            ConnectorRunStatus.ERROR,
            "The run was lost (its worker stopped) and was given up.",
            now,
        )
        run.save(update_fields=["status", "error", "finished_at"])
    return None


@transaction.atomic
def connector_run_start(
    *,
    actor: User | None,
    connector: Connector,
    trigger: str = "manual",
    now: datetime | None = None,
) -> ConnectorRun:
    """Queues a run of the connector on the central worker; returns it.

    Refuses while another run of the same connector is queued or running.
    """
    now = now or timezone.now()
    connector = Connector.objects.select_for_update().get(pk=connector.pk)
    active = _active_run(connector, now)
    if active is not None:
        raise ValidationError(
            f"{connector.name} is already being read (run {active.pk}, "
            f"{active.get_status_display().lower()})."
        )
    run = ConnectorRun.objects.create(
        connector=connector,
        trigger=trigger,
        requested_by=actor if actor is not None and actor.pk else None,
        created_at=now,
        scopes_total=len(connector.scopes),
    )
    connector.last_run = run
    interval = SCHEDULE_INTERVALS.get(connector.schedule)
    connector.next_run = now + interval if interval else None
    connector.save(update_fields=["last_run", "next_run", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=connector,
        changes={"run": run.pk, "trigger": trigger},
    )
    from .tasks import connector_run

    transaction.on_commit(lambda: connector_run.delay(run.pk))
    return run


def _client_settings(connector: Connector):
    values = unseal(connector.credentials_sealed, settings.ENCLAVE_CONNECTOR_KEY)
    if connector.kind == ConnectorKind.AWS_EC2:
        return AwsSettings(
            access_key_id=values.get("access_key_id", ""),
            secret_access_key=values.get("secret_access_key", ""),
            role_arn=values.get("role_arn", ""),
            regions=tuple(connector.scopes),
            endpoint_url=connector.endpoint_url,
        )
    return AzureSettings(
        tenant_id=values.get("tenant_id", ""),
        client_id=values.get("client_id", ""),
        client_secret=values.get("client_secret", ""),
        subscriptions=tuple(connector.scopes),
        authority_host=connector.authority_host,
        resource_manager_url=connector.resource_manager_url,
    )


def _finish(run: ConnectorRun, **fields) -> None:
    fields.setdefault("finished_at", timezone.now())
    for field, value in fields.items():
        setattr(run, field, value)
    run.save(update_fields=list(fields))


def connector_run_execute(*, run: ConnectorRun) -> ConnectorRun:
    """Reads the cloud and records what it found (assets.cloud_sync).

    Never raises for the cloud's sake: a refused credential, an endpoint that
    cannot be reached, a subscription the account may not read, end the run
    in error with a message that says which, and leave the hosts as they were
    (nothing is written until every region/subscription has been read).
    Idempotent for a redelivered task: a finished run is left alone, a run
    cut off midway is read again.
    """
    run = ConnectorRun.objects.select_related("connector").get(pk=run.pk)
    if run.is_done:
        return run
    connector = run.connector
    run.status, run.started_at = ConnectorRunStatus.RUNNING, timezone.now()
    run.scopes_total, run.scopes_done = len(connector.scopes), 0
    run.save(update_fields=["status", "started_at", "scopes_total", "scopes_done"])

    def progress(done: int, total: int, label: str) -> None:
        ConnectorRun.objects.filter(pk=run.pk).update(scopes_done=done, scopes_total=total)

    try:
        discovery = CLIENTS[connector.kind](_client_settings(connector), progress)
        outcome = cloud_instances_sync(connector=connector, discovery=discovery)
    except (ConnectorError, SecretKeyError) as error:
        logger.warning("Connector %s run %s failed: %s", connector.pk, run.pk, error)
        _finish(run, status=ConnectorRunStatus.ERROR, error=str(error))
        return run
    except Exception as error:  # the run must end, whatever went wrong
        logger.exception("Connector %s run %s failed", connector.pk, run.pk)
        _finish(
            run, status=ConnectorRunStatus.ERROR, error=f"The run failed: {type(error).__name__}."
        )
        return run
    _finish(
        run,
        status=ConnectorRunStatus.FINISHED,
        scopes_done=len(discovery.scopes),
        counts=outcome.counts(),
        warnings=outcome.warnings[:200],
    )
    audit_record(
        actor=None,
        action=AuditEntry.Action.UPDATE,
        instance=connector,
        changes={"run": run.pk, **outcome.counts()},
    )
    return run


def connectors_run_due(now: datetime | None = None) -> int:
    """Starts a run of every scheduled connector whose next run has come (the
    beat task, every minute). A connector still being read is skipped until
    its run ends. Never raises; returns how many runs started."""
    now = now or timezone.now()
    due = list(
        Connector.objects.exclude(schedule=ConnectorSchedule.MANUAL)
        .filter(next_run__lte=now)
        .order_by("next_run", "pk")
    )
    started = 0
    for connector in due:
        try:
            connector_run_start(actor=None, connector=connector, trigger="schedule", now=now)
            started += 1
        except ValidationError as refusal:
            logger.info("Connector %s not started: %s", connector.pk, " ".join(refusal.messages))
        except Exception:
            logger.exception("Connector %s could not be started", connector.pk)
    return started
