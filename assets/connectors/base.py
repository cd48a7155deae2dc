"""What every cloud client returns, and the one error it raises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# progress(done, total, label): after each region / subscription read.
Progress = Callable[[int, int, str], None]


class ConnectorError(Exception):
    """A run that could not read the cloud: a refused credential, an endpoint
    that cannot be reached, a region or subscription the account may not read.
    The message says which, for the connector's page; it never holds a secret."""


@dataclass(frozen=True)
class DiscoveredInstance:
    """One EC2 instance or Azure virtual machine, as the cloud describes it.

    ``cloud_id`` is the identity that survives IP changes (EC2 instance id,
    Azure vmId). ``network_id`` is the VPC id or the VNet's resource id
    (lowercase: Azure ids are case-insensitive); ``private_ip`` the primary
    private IPv4 address, "" when it has none (terminated, or no interface).
    ``gone`` is the cloud's own word that it no longer exists (terminated).
    """

    cloud_id: str
    name: str = ""
    state: str = ""
    region: str = ""
    network_id: str = ""
    subnet_id: str = ""
    private_ip: str = ""
    public_ip: str = ""
    image: str = ""
    os: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    gone: bool = False
    # The region (AWS) or subscription (Azure) it was read from.
    scope: str = ""


@dataclass
class Discovery:
    """Everything one run read. ``scopes`` are the regions (AWS) or
    subscriptions (Azure) read completely: an instance of such a scope that
    is missing from ``instances`` has vanished."""

    instances: list[DiscoveredInstance]
    scopes: list[str]


def tail(value: str) -> str:
    """An identifier shown without being given away: "…FUEL" (its last 4 characters)."""
    return f"…{value[-4:]}" if value else "(none)"


def no_progress(done: int, total: int, label: str) -> None:
    return None
