from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from core import iprange


class NetworkKind(models.TextChoices):
    CUSTOM = "custom", "Custom"
    GLOBAL_DEFAULT = "global_default", "Global Default"
    GLOBAL_EC2 = "global_ec2", "Global EC2"
    GLOBAL_AZURE = "global_azure", "Global Azure"


class NetworkQuerySet(models.QuerySet):
    def custom(self):
        return self.filter(kind=NetworkKind.CUSTOM)

    def global_default(self):
        return self.get(kind=NetworkKind.GLOBAL_DEFAULT)


class Network(models.Model):
    """An isolated address space. Hosts, groups, scans and findings belong to one."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=NetworkKind.choices, default=NetworkKind.CUSTOM)
    # The normalised text of the address space, kept beside its rows for display.
    address_space = models.TextField(blank=True)
    # Kept by the services that add and remove hosts: counting on every page
    # view costs ~110 ms at a million hosts (MEASURED.md).
    host_count = models.PositiveIntegerField(default=0)
    # Open (new, active, re-opened) findings by severity, {"1": n, ... "5": n},
    # kept by ingest for the same reason.
    open_findings = models.JSONField(default=dict, blank=True)
    # Every detection, whatever its status (the API's detections list): counting
    # them per request takes 1.5-1.9 s at 30,000,000 rows.
    detection_count = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NetworkQuerySet.as_manager()

    class Meta:
        ordering = ["kind", Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="network_name_unique_ci"),
            # One network of each built-in kind.
            models.UniqueConstraint(
                fields=["kind"], condition=~models.Q(kind="custom"), name="network_builtin_once"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("networks:network_detail", args=[self.pk])

    @property
    def is_built_in(self) -> bool:
        return self.kind != NetworkKind.CUSTOM

    @property
    def accepts_any_address(self) -> bool:
        """Built-in networks accept any address, a custom network's too: no fixed space.

        Overlap is what they are for: the parent company's 10.0.0.0/8 can stay in
        Global Default while an acquired company's 10.0.0.0/16 is a custom network;
        10.0.0.5 in each is two hosts."""
        return self.is_built_in

    def ranges(self) -> list[iprange.IPRange]:
        return [
            iprange.IPRange.from_keys(r.start_key, r.end_key) for r in self.address_ranges.all()
        ]


class AddressRange(models.Model):
    """One merged (start, end) range of a network's address space, as sortable keys."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="address_ranges")
    start_key = models.CharField(max_length=32)
    end_key = models.CharField(max_length=32)

    class Meta:
        ordering = ["network", "start_key"]
        indexes = [models.Index(fields=["network", "start_key", "end_key"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_key__lte=models.F("end_key")), name="address_range_ordered"
            ),
        ]

    def __str__(self) -> str:
        return str(iprange.IPRange.from_keys(self.start_key, self.end_key))


def appliance_queue(name: str) -> str:
    """The broker queue an appliance consumes: its only link to the platform."""
    return f"appliance.{name}"


class ApplianceStatus(models.TextChoices):
    ONLINE = "online", "Online"
    BUSY = "busy", "Busy"
    OFFLINE = "offline", "Offline"


class ScannerApplianceQuerySet(models.QuerySet):
    def online(self):
        """Appliances whose last heartbeat is recent (busy ones included)."""
        cutoff = timezone.now() - timedelta(seconds=settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER)
        return self.filter(last_seen__gte=cutoff)


# An appliance's name is its queue's name ("appliance.<name>"): ASCII letters,
# digits, "-" and "_" only. Not "\w", which matches any Unicode letter, and "\Z",
# not "$", which would let a trailing newline through.
APPLIANCE_NAME_PATTERN = r"\A[A-Za-z0-9_-]+\Z"
validate_appliance_name = RegexValidator(
    APPLIANCE_NAME_PATTERN,
    message="An appliance name may use only letters (A-Z, a-z), digits, - and _: "
    "it names the appliance's queue.",
    code="invalid_appliance_name",
)


class ScannerAppliance(models.Model):
    """A scan worker inside one network; it reaches only that network."""

    name = models.CharField(max_length=64, validators=[validate_appliance_name])
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="appliances")
    description = models.TextField(blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    version = models.CharField(max_length=64, blank=True)
    nmap_version = models.CharField(max_length=32, blank=True)
    # Slices the appliance reported running at its last heartbeat.
    running_slices = models.PositiveIntegerField(default=0)
    # What its newest heartbeat said it holds: the task ids of the slices it
    # runs or has just answered (None from an appliance too old to say), how
    # many it runs at once, which process said it (a new one after a restart)
    # and that heartbeat's number in the process. Failover takes back a slice
    # sent to an appliance that, alive, does not hold it (scans.services.failover).
    held_tasks = models.JSONField(null=True, blank=True)
    slots = models.PositiveIntegerField(default=0)
    process = models.CharField(max_length=64, blank=True)
    heartbeat_number = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScannerApplianceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            # "Lab" and "lab" would be two appliances a person cannot tell apart.
            models.UniqueConstraint(Lower("name"), name="appliance_name_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return appliance_queue(self.name)

    @property
    def status(self) -> str:
        if self.last_seen is None:
            return ApplianceStatus.OFFLINE
        age = timezone.now() - self.last_seen
        if age > timedelta(seconds=settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER):
            return ApplianceStatus.OFFLINE
        return ApplianceStatus.BUSY if self.running_slices else ApplianceStatus.ONLINE


class NetworkAccess(models.Model):
    """The networks a Scanner or Reader may see: every network, or the ones chosen.

    A user without a row sees every network, as every user did before grants
    existed (and as users made by ``createsuperuser`` or the admin do): a
    Manager narrows a user by giving them a row. Managers see every network
    whatever their row says. Outside a user's networks an object does not
    exist for them (404); ``networks.selectors`` is the one place that decides.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="network_access"
    )
    all_networks = models.BooleanField(default=True)
    networks = models.ManyToManyField(Network, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "network access"
        verbose_name_plural = "network access"

    def __str__(self) -> str:
        return f"network access of {self.user}"
