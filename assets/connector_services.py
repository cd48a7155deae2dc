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
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditEntry, User
from accounts.services import audit_record
from console.queueing import enqueue_on_commit
from networks.models import Network

from .cloud_sync import cloud_instances_sync
from .connector_checks import (
    REQUIRED_CREDENTIALS,
    check_credentials,
    check_endpoints,
    check_mappings,
    check_name,
    check_schedule,
    collect,
    parse_scopes,
)
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

# A run still queued or running after this long was lost (worker killed): it no
# longer blocks a new one. Longer than the longest task (CELERY_TASK_TIME_LIMIT).
STALE_AFTER = timedelta(hours=4)


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
    name, scope_list, urls, values, mapped, _ = collect(
        lambda: check_name(name),
        lambda: parse_scopes(kind, scopes),
        lambda: check_endpoints(
            kind,
            {
                "endpoint_url": endpoint_url,
                "authority_host": authority_host,
                "resource_manager_url": resource_manager_url,
            },
        ),
        lambda: check_credentials(kind, credentials, creating=True),
        lambda: check_mappings(kind, mappings),
        lambda: check_schedule(schedule),
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

    new_name, scope_list, urls, values, mapped, _ = collect(
        (lambda: check_name(name, exclude_pk=connector.pk)) if name is not None else skip,
        (lambda: parse_scopes(connector.kind, scopes)) if scopes is not None else skip,
        lambda: check_endpoints(
            connector.kind,
            {
                "endpoint_url": endpoint_url,
                "authority_host": authority_host,
                "resource_manager_url": resource_manager_url,
            },
        ),
        (lambda: check_credentials(connector.kind, given_credentials, creating=False))
        if given_credentials
        else skip,
        (lambda: check_mappings(connector.kind, list(mappings))) if mappings is not None else skip,
        (lambda: check_schedule(schedule)) if schedule is not None else skip,
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

    run_id = run.pk
    enqueue_on_commit(
        lambda: connector_run.delay(run_id),
        what=f"connector run {run_id}",
        failed=lambda reason: _finish(
            ConnectorRun.objects.get(pk=run_id), status=ConnectorRunStatus.ERROR, error=reason
        ),
    )
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
