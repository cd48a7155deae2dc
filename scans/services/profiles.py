"""Option profiles: how a scan probes."""

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import AuditEntry, User
from accounts.services import audit_record

from ..models import OptionProfile, TcpPortSet, Vulnerability

DEFAULT_PROFILE_NAME = "Initial Options"
# ASCII digits only: re's \d, str.isdigit() and int() also take "８０" or "٨٠",
# which nmap refuses when the scan starts, so they are refused here, at save.
_PORT_TOKEN = re.compile(r"([0-9]+)(?:-([0-9]+))?", re.ASCII)


def _port_token_error(token: str) -> str:
    match = _PORT_TOKEN.fullmatch(token)
    if not match:
        if any(c.isdigit() and not c.isascii() for c in token):
            return f"'{token}' is not a port or a port range: write ports with the digits 0-9"
        return f"'{token}' is not a port or a port range"
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if not (1 <= first <= 65535 and 1 <= last <= 65535):
        return f"'{token}' is outside 1-65535"
    if last < first:
        return f"'{token}' ends before it starts"
    return ""


def parse_port_spec(text: str, *, field: str) -> str:
    """Normalises "22, 80,8000-8100" to "22,80,8000-8100"; names every bad token.

    Items are separated by commas (or white space); each is a port or a
    ``low-high`` range within 1-65535, written with the ASCII digits 0-9.
    Refuses anything else, a reversed range, and an empty item ("80,,443").
    """
    text = (text or "").strip()
    if not text:
        return ""
    items = [item.split() for item in text.split(",")]
    bad = []
    if not all(items):
        bad.append(f"'{text}' has an empty item: remove the extra comma")
    tokens = [token for words in items for token in words]
    bad += [error for error in map(_port_token_error, tokens) if error]
    if bad:
        raise ValidationError({field: bad})
    return ",".join(tokens)


def available_checks() -> list[str]:
    """The check modules the KB names."""
    return sorted(
        set(
            Vulnerability.objects.exclude(check_name="")
            .values_list("check_name", flat=True)
            .distinct()
        )
    )


def _clean(data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            errors["name"] = ["An option profile needs a name."]
    port_set = data.get("tcp_port_set")
    if port_set is not None and port_set not in TcpPortSet.values:
        errors["tcp_port_set"] = [f"'{port_set}' is not one of {', '.join(TcpPortSet.values)}."]
    for field in ("tcp_ports", "udp_ports"):
        if field in data:
            try:
                data[field] = parse_port_spec(data[field], field=field)
            except ValidationError as error:
                errors.update(error.message_dict)
    if port_set == TcpPortSet.CUSTOM and not data.get("tcp_ports") and "tcp_ports" not in errors:
        errors["tcp_ports"] = ["List the TCP ports to scan, or choose the standard set or all."]
    if "checks" in data:
        checks = list(dict.fromkeys(c.strip() for c in data["checks"] or [] if c.strip()))
        known = set(available_checks())
        unknown = [c for c in checks if c not in known]
        if unknown:
            errors["checks"] = [f"'{c}' is not a known check." for c in unknown]
        data["checks"] = checks
    for field, low, high in (("max_parallel_hosts", 1, 256), ("host_timeout", 1, 86400)):
        if field in data and not (low <= int(data[field]) <= high):
            errors[field] = [f"Must be between {low} and {high}."]
    if errors:
        raise ValidationError(errors)
    return data


def _save(profile: OptionProfile) -> OptionProfile:
    if profile.is_default:
        OptionProfile.objects.filter(is_default=True).exclude(pk=profile.pk).update(
            is_default=False
        )
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError:
        raise ValidationError(
            {"name": f"An option profile named '{profile.name}' already exists."}
        ) from None
    return profile


@transaction.atomic
def option_profile_create(
    *,
    actor: User | None,
    name: str,
    tcp_port_set: str = TcpPortSet.STANDARD,
    tcp_ports: str = "",
    udp_ports: str = "",
    service_detection: bool = True,
    checks: list[str] | None = None,
    max_parallel_hosts: int = 16,
    host_timeout: int = 300,
    is_default: bool = False,
) -> OptionProfile:
    """Creates a profile. Refuses bad port lists, unknown checks and a taken name."""
    data = _clean(
        {
            "name": name,
            "tcp_port_set": tcp_port_set,
            "tcp_ports": tcp_ports,
            "udp_ports": udp_ports,
            "checks": checks or [],
            "max_parallel_hosts": max_parallel_hosts,
            "host_timeout": host_timeout,
        }
    )
    if data["tcp_port_set"] != TcpPortSet.CUSTOM:
        data["tcp_ports"] = ""
    profile = _save(
        OptionProfile(service_detection=service_detection, is_default=is_default, **data)
    )
    audit_record(actor=actor, action=AuditEntry.Action.CREATE, instance=profile, changes={})
    return profile


@transaction.atomic
def option_profile_update(*, actor: User | None, profile: OptionProfile, **fields) -> OptionProfile:
    """Edits a profile; scans already launched keep the settings they were sent."""
    allowed = {
        "name",
        "tcp_port_set",
        "tcp_ports",
        "udp_ports",
        "service_detection",
        "checks",
        "max_parallel_hosts",
        "host_timeout",
        "is_default",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"Unknown option profile fields: {', '.join(sorted(unknown))}.")
    merged = {
        "tcp_port_set": fields.get("tcp_port_set", profile.tcp_port_set),
        "tcp_ports": fields.get("tcp_ports", profile.tcp_ports),
        **{k: v for k, v in fields.items() if k not in {"service_detection", "is_default"}},
    }
    data = _clean(merged)
    if profile.is_default and fields.get("is_default") is False:
        raise ValidationError(
            {"is_default": "Make another profile the default instead of unsetting this one."}
        )
    changes = {}
    for key, value in {
        **data,
        **{k: fields[k] for k in ("service_detection", "is_default") if k in fields},
    }.items():
        if getattr(profile, key) != value:
            changes[key] = [getattr(profile, key), value]
            setattr(profile, key, value)
    if profile.tcp_port_set != TcpPortSet.CUSTOM:
        profile.tcp_ports = ""
    _save(profile)
    if changes:
        audit_record(
            actor=actor, action=AuditEntry.Action.UPDATE, instance=profile, changes=changes
        )
    return profile


def option_profile_default() -> OptionProfile:
    """The default profile, recreated with standard settings if it is missing."""
    profile = OptionProfile.objects.filter(is_default=True).first()
    if profile is not None:
        return profile
    profile, _ = OptionProfile.objects.get_or_create(
        name=DEFAULT_PROFILE_NAME, defaults={"is_default": True}
    )
    if not profile.is_default:
        profile.is_default = True
        profile.save(update_fields=["is_default"])
    return profile
