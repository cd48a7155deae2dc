"""What a connector's settings must be: each check returns the clean value or
raises a ValidationError naming the field (the services gather them all)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from core.digits import ascii_digits
from networks.models import Network, NetworkKind

from .models import Connector, ConnectorKind, ConnectorSchedule

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
_SPLIT = re.compile(r"[,\s]+")


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


def collect(*checks) -> list:
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


def check_name(name: str, *, exclude_pk: int | None = None) -> str:
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


def check_endpoints(kind: str, values: dict[str, str | None]) -> dict[str, str]:
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


def check_credentials(kind: str, given: dict[str, str], *, creating: bool) -> dict[str, str]:
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


def check_mappings(connector_kind: str, mappings: Iterable[dict]) -> list[tuple[str, Network]]:
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
            network = (
                Network.objects.filter(pk=network).first() if ascii_digits(str(network)) else None
            )
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


def check_schedule(schedule: str) -> str:
    if schedule not in ConnectorSchedule.values:
        raise ValidationError(
            {
                "schedule": [
                    f"'{schedule}' is not a schedule ({', '.join(ConnectorSchedule.values)})."
                ]
            }
        )
    return schedule
