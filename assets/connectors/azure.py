"""Azure: the virtual machines of some subscriptions, with the Azure SDK
(azure-identity, azure-mgmt-compute, azure-mgmt-network).

A service principal (tenant, client id, client secret) signs in at the
authority host (Microsoft Entra ID unless ``authority_host`` names a
sovereign cloud's or Azure Stack's), and Azure Resource Manager is read at
``resource_manager_url``. Per subscription, four subscription-wide lists,
each followed through its ``nextLink`` pages: virtual machines (the model),
their power states (``statusOnly=true``), network interfaces and public IP
addresses; they are joined here, never one call per machine. A subscription
that fails ends the whole read with a ConnectorError naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient

from .base import ConnectorError, DiscoveredInstance, Discovery, Progress, no_progress, tail

PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
PUBLIC_RESOURCE_MANAGER = "https://management.azure.com"


@dataclass(frozen=True)
class AzureSettings:
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    subscriptions: tuple[str, ...]
    authority_host: str = ""
    resource_manager_url: str = ""
    timeout: float = 20.0


def _clients(settings: AzureSettings, subscription: str):
    authority = (settings.authority_host or PUBLIC_AUTHORITY).rstrip("/")
    manager = (settings.resource_manager_url or PUBLIC_RESOURCE_MANAGER).rstrip("/")
    transport = {"connection_timeout": settings.timeout, "read_timeout": settings.timeout}
    try:
        credential = ClientSecretCredential(
            settings.tenant_id,
            settings.client_id,
            settings.client_secret,
            authority=authority,
            # A given authority host is the Manager's word: MSAL would otherwise ask
            # the public cloud whether it knows it (and sovereign / Stack ones it may not).
            disable_instance_discovery=bool(settings.authority_host),
            **transport,
        )
    except ValueError as error:  # a tenant id or authority the SDK refuses
        raise ConnectorError(f"Azure settings refused: {error}") from None
    common = {
        "base_url": manager,
        "credential_scopes": [f"{manager}/.default"],
        "retry_total": 1,
        **transport,
    }
    return (
        ComputeManagementClient(credential, subscription, **common),
        NetworkManagementClient(credential, subscription, **common),
    )


def _explain(error: Exception, settings: AzureSettings, subscription: str) -> ConnectorError:
    """A clear message for the connector's page; never the secret."""
    if isinstance(error, ClientAuthenticationError):
        text = str(error.message if hasattr(error, "message") else error)
        if "invalid_client" in text or "AADSTS7000215" in text or "AADSTS700016" in text:
            return ConnectorError(
                f"Azure rejected the client id/secret for tenant {settings.tenant_id} "
                f"(client {tail(settings.client_id)})."
            )
        if "AADSTS90002" in text or "invalid_tenant" in text.lower():
            return ConnectorError(f"Azure does not know the tenant {settings.tenant_id}.")
        return ConnectorError(
            f"Signing in to Azure failed for tenant {settings.tenant_id}: {text.splitlines()[0]}"
        )
    if isinstance(error, HttpResponseError):
        code = getattr(error.error, "code", None) or error.status_code
        if error.status_code in (401, 403):
            return ConnectorError(
                f"Azure denied client {tail(settings.client_id)} access to subscription "
                f"{subscription} ({code}): it needs the Reader role there."
            )
        if error.status_code == 404:
            return ConnectorError(f"Azure does not know the subscription {subscription} ({code}).")
        return ConnectorError(f"Azure answered {code} for subscription {subscription}.")
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        where = settings.resource_manager_url or settings.authority_host or "Azure"
        return ConnectorError(f"Cannot reach {where}: {error}")
    return ConnectorError(f"Reading subscription {subscription} failed: {error}")


def _power_state(vm) -> str:
    statuses = getattr(getattr(vm, "instance_view", None), "statuses", None) or []
    for status in statuses:
        code = status.code or ""
        if code.startswith("PowerState/"):
            return code.split("/", 1)[1]
    return ""


def _text(value) -> str:
    """An SDK enum (``OperatingSystemTypes.LINUX``) or string as its text ("Linux")."""
    return str(getattr(value, "value", value) or "")


def _vnet_of(subnet_id: str) -> str:
    """.../virtualNetworks/<vnet>/subnets/<subnet> -> the VNet's id."""
    head, sep, _ = subnet_id.partition("/subnets/")
    return head if sep else ""


def _image(vm) -> str:
    reference = getattr(vm.storage_profile, "image_reference", None) if vm.storage_profile else None
    if reference is None:
        return ""
    if reference.publisher:
        parts = [reference.publisher, reference.offer, reference.sku, reference.version]
        return ":".join(p or "" for p in parts)
    return (reference.id or "").lower()


def _read_subscription(settings: AzureSettings, subscription: str) -> list[DiscoveredInstance]:
    compute, network = _clients(settings, subscription)
    with compute, network:
        vms = list(compute.virtual_machines.list_all())
        states = {
            (vm.id or "").lower(): _power_state(vm)
            for vm in compute.virtual_machines.list_all(status_only="true")
        }
        nics = {(nic.id or "").lower(): nic for nic in network.network_interfaces.list_all()}
        public = {
            (ip.id or "").lower(): ip.ip_address or ""
            for ip in network.public_ip_addresses.list_all()
        }
    found = []
    for vm in vms:
        refs = list(getattr(vm.network_profile, "network_interfaces", None) or [])
        primary = next((r for r in refs if r.primary), refs[0] if refs else None)
        nic = nics.get((primary.id or "").lower()) if primary else None
        configs = list(nic.ip_configurations or []) if nic else []
        config = next((c for c in configs if c.primary), configs[0] if configs else None)
        subnet_id = (config.subnet.id or "").lower() if config and config.subnet else ""
        public_id = (
            (config.public_ip_address.id or "").lower()
            if config and config.public_ip_address
            else ""
        )
        os_disk = vm.storage_profile.os_disk if vm.storage_profile else None
        found.append(
            DiscoveredInstance(
                cloud_id=(vm.vm_id or vm.id or "").lower(),
                name=vm.name or "",
                state=states.get((vm.id or "").lower(), ""),
                region=vm.location or "",
                network_id=_vnet_of(subnet_id),
                subnet_id=subnet_id,
                private_ip=(config.private_ip_address or "") if config else "",
                public_ip=public.get(public_id, ""),
                image=_image(vm),
                os=_text(os_disk.os_type) if os_disk else "",
                tags=dict(vm.tags or {}),
                scope=subscription,
            )
        )
    return found


def discover(settings: AzureSettings, progress: Progress = no_progress) -> Discovery:
    """Every virtual machine of the configured subscriptions. Raises ConnectorError."""
    if not settings.subscriptions:
        raise ConnectorError("No subscription to read: list at least one subscription id.")
    if not (settings.tenant_id and settings.client_id and settings.client_secret):
        raise ConnectorError("No Azure credentials: enter the tenant, client id and secret.")
    found: list[DiscoveredInstance] = []
    total = len(settings.subscriptions)
    for done, subscription in enumerate(settings.subscriptions, start=1):
        try:
            found.extend(_read_subscription(settings, subscription))
        except (
            ClientAuthenticationError,
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        ) as error:
            raise _explain(error, settings, subscription) from None
        progress(done, total, subscription)
    return Discovery(instances=found, scopes=list(settings.subscriptions))
