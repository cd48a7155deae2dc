from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from core import iprange
from networks.models import Network


class Tag(models.Model):
    """A label on hosts; may span networks; usable as a report target."""

    name = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = [Lower("name")]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class Host(models.Model):
    """One IP in one network: identity is (network, ip), never the IP alone."""

    # No index of its own: the (network, ip_key) unique index serves every
    # per-network query, and a second one lures the planner into sorting a
    # whole network instead of reading it in IP order.
    network = models.ForeignKey(
        Network, on_delete=models.PROTECT, related_name="hosts", db_index=False
    )
    ip = models.CharField(max_length=45)
    # Sortable 32-hex-digit key (core.iprange): numeric order, indexed ranges.
    ip_key = models.CharField(max_length=32)
    dns = models.CharField(max_length=255, blank=True)
    netbios = models.CharField(max_length=64, blank=True)
    os = models.CharField(max_length=255, blank=True)
    first_found = models.DateTimeField(default=timezone.now)
    last_scanned = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="hosts")

    class Meta:
        ordering = ["network", "ip_key"]
        constraints = [
            models.UniqueConstraint(fields=["network", "ip_key"], name="host_unique_per_network"),
        ]
        indexes = [models.Index(fields=["ip_key"], name="host_ip_key_idx")]

    def __str__(self) -> str:
        return f"{self.ip} ({self.network})"

    def save(self, *args, **kwargs):
        self.ip = iprange.normalise_ip(self.ip)
        self.ip_key = iprange.ip_key(self.ip)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("assets:host_detail", args=[self.pk])


class AssetGroup(models.Model):
    """Named IPs/ranges/domains in one network, fixed when the group is created."""

    title = models.CharField(max_length=128)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="asset_groups")
    # Normalised text of the group's IPs; the ranges are rows below.
    ips = models.TextField(blank=True)
    domains = models.TextField(blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("title")]
        constraints = [
            models.UniqueConstraint(
                "network", Lower("title"), name="asset_group_title_unique_per_network"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("assets:asset_group_detail", args=[self.pk])

    def ranges(self) -> list[iprange.IPRange]:
        """The group's merged ranges, in order (plain rows: a group may hold 100,000)."""
        rows = self.ip_ranges.order_by("start_key").values_list("start_key", "end_key")
        return [iprange.IPRange.from_keys(start, end) for start, end in rows]


class AssetGroupRange(models.Model):
    # Indexed by (group, start_key, end_key) below.
    group = models.ForeignKey(
        AssetGroup, on_delete=models.CASCADE, related_name="ip_ranges", db_index=False
    )
    start_key = models.CharField(max_length=32)
    end_key = models.CharField(max_length=32)

    class Meta:
        ordering = ["group", "start_key"]
        indexes = [models.Index(fields=["group", "start_key", "end_key"])]

    def __str__(self) -> str:
        return str(iprange.IPRange.from_keys(self.start_key, self.end_key))


class NetworkOverlap(models.Model):
    """The counted figure for one pair of networks whose address spaces overlap.

    Which pairs overlap, and where, is computed live from the networks'
    address ranges (cheap: few networks, few ranges). Counting the hosts that
    exist in both is not cheap at a million hosts, so ``assets.services``
    keeps it here: ``overlaps_refresh`` recounts, host services adjust it.
    ``ranges`` records the overlap the figure was counted for, so a changed
    address space shows as "not counted yet" instead of a wrong number.
    """

    network_a = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+")
    network_b = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+")
    ranges = models.TextField()
    hosts_in_both = models.PositiveIntegerField(default=0)
    counted_at = models.DateTimeField(default=timezone.now)
    # assets.selectors.space_fingerprint of every custom network's address
    # space when this row was counted: while it matches, the rows are current.
    space_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        ordering = ["network_a", "network_b"]
        constraints = [
            models.UniqueConstraint(fields=["network_a", "network_b"], name="overlap_pair_once"),
            models.CheckConstraint(
                condition=models.Q(network_a__lt=models.F("network_b")),
                name="overlap_pair_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.network_a_id} ∩ {self.network_b_id}: {self.ranges}"

    @property
    def ranges_text(self) -> str:
        return self.ranges


# --- Cloud connectors --------------------------------------------------------------


class ConnectorKind(models.TextChoices):
    AWS_EC2 = "aws_ec2", "AWS EC2"
    AZURE = "azure", "Azure"


class ConnectorSchedule(models.TextChoices):
    MANUAL = "manual", "Only when run by hand"
    HOURLY = "hourly", "Every hour"
    DAILY = "daily", "Every day"
    WEEKLY = "weekly", "Every week"


SCHEDULE_INTERVALS = {
    ConnectorSchedule.HOURLY: timedelta(hours=1),
    ConnectorSchedule.DAILY: timedelta(days=1),
    ConnectorSchedule.WEEKLY: timedelta(days=7),
}


class Connector(models.Model):
    """A cloud account whose instances become hosts (Global EC2 / Global Azure,
    or the custom network a VPC/VNet is mapped to).

    Credentials are sealed (``assets.connectors.sealing``, Fernet under
    ``ENCLAVE_CONNECTOR_KEY``) and never leave the services in clear: pages and
    the API show only ``credentials_hint``.
    """

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ConnectorKind.choices)
    # Region names (AWS) or subscription ids (Azure).
    scopes = models.JSONField(default=list, blank=True)
    endpoint_url = models.CharField(max_length=255, blank=True)
    authority_host = models.CharField(max_length=255, blank=True)
    resource_manager_url = models.CharField(max_length=255, blank=True)
    credentials_sealed = models.TextField(blank=True)
    # What identifies the credentials without revealing them ("access key …FUEL").
    credentials_hint = models.CharField(max_length=200, blank=True)
    schedule = models.CharField(
        max_length=16, choices=ConnectorSchedule.choices, default=ConnectorSchedule.DAILY
    )
    next_run = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run = models.ForeignKey(
        "ConnectorRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("name")]
        constraints = [models.UniqueConstraint(Lower("name"), name="connector_name_unique_ci")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("assets:connector_detail", args=[self.pk])

    @property
    def scope_noun(self) -> str:
        return "regions" if self.kind == ConnectorKind.AWS_EC2 else "subscriptions"

    @property
    def cloud_network_noun(self) -> str:
        return "VPC" if self.kind == ConnectorKind.AWS_EC2 else "VNet"


class ConnectorMapping(models.Model):
    """Instances of one VPC (AWS) or VNet (Azure) go to a custom network: how
    two VPCs with the same CIDR stay two sets of hosts."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="mappings")
    # A VPC id ("vpc-0a1b…") or a VNet's resource id, lowercase.
    cloud_network = models.CharField(max_length=400)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["connector", "cloud_network"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "cloud_network"], name="connector_mapping_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cloud_network} → {self.network_id}"


class ConnectorRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    ERROR = "error", "Error"


class ConnectorRun(models.Model):
    """One read of a connector's cloud and what it changed."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(
        max_length=16, choices=ConnectorRunStatus.choices, default=ConnectorRunStatus.QUEUED
    )
    # "manual" (a Manager asked) or "schedule" (beat).
    trigger = models.CharField(max_length=16, default="manual")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Regions / subscriptions read so far, of how many.
    scopes_done = models.PositiveIntegerField(default=0)
    scopes_total = models.PositiveIntegerField(default=0)
    # {"seen", "new", "updated", "gone", "purged"}
    counts = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["connector", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.connector} run {self.pk}"

    @property
    def is_done(self) -> bool:
        return self.status in (ConnectorRunStatus.FINISHED, ConnectorRunStatus.ERROR)

    @property
    def progress(self) -> int:
        if self.status == ConnectorRunStatus.FINISHED:
            return 100
        if not self.scopes_total:
            return 0
        # Reading is most of a run; the last tenth is writing the hosts.
        return min(90, 90 * self.scopes_done // self.scopes_total)


class CloudInstance(models.Model):
    """An EC2 instance or Azure VM, by its cloud identity, and the host row it owns.

    A model of its own rather than columns on Host: Host is the million-row
    table every scan writes, and most hosts are not in a cloud; an instance may
    have no host (no private IP yet, or its address was taken by another
    instance) and its record outlives its host while it is gone, until the
    purge. The rules of which row an instance owns: assets.cloud_sync.
    """

    provider = models.CharField(max_length=16, choices=ConnectorKind.choices)
    cloud_id = models.CharField(max_length=128)
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="instances")
    # Deleting a connector forgets its instances; their hosts stay, as plain hosts.
    host = models.OneToOneField(
        Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="cloud"
    )
    name = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=32, blank=True)
    region = models.CharField(max_length=64, blank=True)
    # The region (AWS) or subscription (Azure) it was read from.
    scope = models.CharField(max_length=128, blank=True)
    cloud_network = models.CharField(max_length=400, blank=True)
    subnet = models.CharField(max_length=500, blank=True)
    private_ip = models.CharField(max_length=45, blank=True)
    public_ip = models.CharField(max_length=45, blank=True)
    image = models.CharField(max_length=255, blank=True)
    os = models.CharField(max_length=64, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)
    # Set when the cloud said terminated or the instance was no longer listed.
    gone_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["provider", "cloud_id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "cloud_id"], name="cloud_instance_once"),
        ]
        indexes = [models.Index(fields=["connector", "scope"])]

    def __str__(self) -> str:
        return self.cloud_id

    @property
    def is_gone(self) -> bool:
        return self.gone_at is not None
