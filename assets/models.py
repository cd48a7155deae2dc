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
