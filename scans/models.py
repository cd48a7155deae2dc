from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from assets.models import Host
from networks.models import Network, ScannerAppliance


class Severity(models.IntegerChoices):
    MINIMAL = 1, "1 - Minimal"
    MEDIUM = 2, "2 - Medium"
    SERIOUS = 3, "3 - Serious"
    CRITICAL = 4, "4 - Critical"
    URGENT = 5, "5 - Urgent"


class VulnerabilityKind(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    POTENTIAL = "potential", "Potential"
    INFO = "info", "Information gathered"


class KbSource(models.TextChoices):
    """Who describes a KB entry: Enclave's own engine, or a scanner whose results were imported."""

    ENCLAVE = "enclave", "Enclave"
    NMAP = "nmap", "nmap"
    OPENVAS = "openvas", "Greenbone/OpenVAS"
    NESSUS = "nessus", "Nessus"
    QUALYS = "qualys", "Qualys"
    NVD = "nvd", "NVD"


# Enclave's own QIDs stay below this; an imported entry gets the next free QID
# from here up (never its external id: a Qualys QID may equal an Enclave QID,
# and NVT OIDs or nmap script names are not numbers). The database checks it.
IMPORTED_QID_BASE = 1_000_000_000


class Vulnerability(models.Model):
    """A KnowledgeBase entry, identified by its QID. Enclave's own ship with the code
    (scans/engine/kb); imports add entries of their source, keyed by the source's
    own id (``external_id``) and numbered from ``IMPORTED_QID_BASE`` up."""

    qid = models.PositiveIntegerField(primary_key=True)
    source = models.CharField(max_length=16, choices=KbSource.choices, default=KbSource.ENCLAVE)
    # The source's id: NVT OID, Nessus plugin id, Qualys QID, nmap script id
    # ("" for Enclave's own entries, whose id is the QID).
    external_id = models.CharField(max_length=128, blank=True)
    title = models.CharField(max_length=255)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    kind = models.CharField(
        max_length=16, choices=VulnerabilityKind.choices, default=VulnerabilityKind.CONFIRMED
    )
    category = models.CharField(max_length=64)
    cvss = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    cves = models.JSONField(default=list, blank=True)
    diagnosis = models.TextField()
    consequence = models.TextField(blank=True)
    solution = models.TextField(blank=True)
    # The engine's check module that looks for this QID: a host that check ran
    # against without finding the QID has it fixed.
    check_name = models.CharField(max_length=64, blank=True)
    # Prioritisation, from the KEV and EPSS feeds (``CveIntel``) over the entry's
    # CVEs: known exploited when any is in CISA's catalog (its earliest date added
    # and due date), EPSS the highest score and percentile of its CVEs.
    known_exploited = models.BooleanField(default=False)
    kev_date_added = models.DateField(null=True, blank=True)
    kev_due_date = models.DateField(null=True, blank=True)
    epss = models.FloatField(null=True, blank=True)
    epss_percentile = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["qid"]
        verbose_name = "KnowledgeBase entry"
        verbose_name_plural = "KnowledgeBase"
        indexes = [
            models.Index(fields=["severity"]),
            models.Index(
                fields=["known_exploited"],
                condition=models.Q(known_exploited=True),
                name="kb_known_exploited",
            ),
            models.Index(fields=["epss"], name="kb_epss"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~models.Q(source=KbSource.ENCLAVE),
                name="kb_source_external_id_unique",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(source=KbSource.ENCLAVE, qid__lt=IMPORTED_QID_BASE)
                    | (~models.Q(source=KbSource.ENCLAVE) & models.Q(qid__gte=IMPORTED_QID_BASE))
                ),
                name="kb_qid_range_by_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.qid} {self.title}"

    @property
    def reference(self) -> str:
        """How the source names it: "38700" (Enclave), "Nessus 19506", "Qualys 38170"."""
        if self.source == KbSource.ENCLAVE:
            return str(self.qid)
        return f"{self.get_source_display()} {self.external_id}"


class DetectionStatus(models.TextChoices):
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    FIXED = "fixed", "Fixed"
    REOPENED = "reopened", "Re-Opened"


OPEN_STATUSES = (DetectionStatus.NEW, DetectionStatus.ACTIVE, DetectionStatus.REOPENED)


class Detection(models.Model):
    """One vulnerability (QID) on one host, so in one network, on one port."""

    # Ingest writes tens of thousands of rows a second (bench/bench_ingest.py),
    # so each row carries as little upkeep as the rules allow:
    # * no single-column indexes: each key leads a composite index below;
    # * network and QID are not database foreign keys (a deferred check per
    #   row costs ~30% of ingest on PostgreSQL). Ingest takes the network from
    #   the host row it just upserted and the QID only through a join with the
    #   KB, so neither can dangle; PROTECT still guards ORM deletes. The host
    #   key stays a real foreign key: it is the detection's identity.
    network = models.ForeignKey(
        Network,
        on_delete=models.PROTECT,
        related_name="detections",
        db_index=False,
        db_constraint=False,
    )
    host = models.ForeignKey(
        Host, on_delete=models.CASCADE, related_name="detections", db_index=False
    )
    vulnerability = models.ForeignKey(
        Vulnerability,
        on_delete=models.PROTECT,
        db_column="qid",
        related_name="detections",
        db_index=False,
        db_constraint=False,
    )
    # Port 0 and protocol "" for findings that are not about one port.
    port = models.PositiveIntegerField(default=0)
    protocol = models.CharField(max_length=8, blank=True, default="")
    # Copied from the KB so lists filter and sort by severity without a join.
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    status = models.CharField(
        max_length=16, choices=DetectionStatus.choices, default=DetectionStatus.NEW
    )
    first_found = models.DateTimeField(default=timezone.now)
    last_found = models.DateTimeField(default=timezone.now)
    times_found = models.PositiveIntegerField(default=1)
    fixed_at = models.DateTimeField(null=True, blank=True)
    # The evidence the check saw: banner, certificate dates, missing headers, ...
    results = models.TextField(blank=True)

    class Meta:
        ordering = ["host", "-severity", "vulnerability"]
        constraints = [
            models.UniqueConstraint(
                fields=["host", "vulnerability", "port", "protocol"], name="detection_unique"
            ),
        ]
        # Every index costs each new row (and each non-HOT update) 0.3-0.6 s of
        # PostgreSQL CPU per 300,000 rows (bench/bench_ingest.py), so the lists'
        # indexes are partial: open findings (what ingest writes and rewrites)
        # in one set, Fixed ones (written once, when fixed) in another.
        indexes = [
            # The Vulnerabilities list's default order (worst first, newest
            # first) at any depth: across networks, in one network, and for
            # one QID (a CVE filter); open findings only, the list's default.
            models.Index(
                fields=["-severity", "-id"],
                condition=models.Q(status__in=["new", "active", "reopened"]),
                name="detection_open_by_severity",
            ),
            # On PostgreSQL it also holds each one's QID, host and status, so
            # the trend snapshot counts a network's open findings by status,
            # QID and host from the index alone (no row reads).
            models.Index(
                fields=["network", "-severity", "-id"],
                include=["vulnerability", "host", "status"],
                condition=models.Q(status__in=["new", "active", "reopened"]),
                name="detection_open_by_network",
            ),
            models.Index(
                fields=["vulnerability", "-severity", "-id"],
                condition=models.Q(status__in=["new", "active", "reopened"]),
                name="detection_open_by_qid",
            ),
            # One network's open findings by last found (newest first).
            models.Index(
                fields=["network", "-last_found", "-id"],
                condition=models.Q(status__in=["new", "active", "reopened"]),
                name="detection_open_by_last_found",
            ),
            # The Fixed filter of the same lists, across networks, in one network
            # and for one QID (a network's recount reads its Fixed ones from the
            # second alone). A row enters these once, when it is fixed.
            models.Index(
                fields=["-severity", "-id"],
                condition=models.Q(status="fixed"),
                name="detection_fixed_by_severity",
            ),
            models.Index(
                fields=["network", "-severity", "-id"],
                condition=models.Q(status="fixed"),
                name="detection_fixed_in_network",
            ),
            models.Index(
                fields=["vulnerability", "-severity", "-id"],
                condition=models.Q(status="fixed"),
                name="detection_fixed_of_qid",
            ),
            # One network's Fixed findings by last found: with the open ones'
            # (detection_open_by_last_found), a list of any status in that order.
            models.Index(
                fields=["network", "-last_found", "-id"],
                condition=models.Q(status="fixed"),
                name="detection_fixed_by_last_found",
            ),
            # The trend snapshot's "found that day" and "fixed that day"; the
            # latter is also a network's Fixed list by fix date, newest first.
            models.Index(fields=["network", "first_found"], name="detection_found_by_network"),
            models.Index(
                fields=["network", "-fixed_at", "-id"],
                condition=models.Q(fixed_at__isnull=False),
                name="detection_fixed_by_network",
            ),
            # The Fixed list by fix date across networks.
            models.Index(
                fields=["-fixed_at", "-id"],
                condition=models.Q(fixed_at__isnull=False),
                name="detection_fixed_by_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vulnerability_id} on {self.host}"

    @property
    def qid(self) -> int:
        return self.vulnerability_id


class HostService(models.Model):
    """One open port of a host as the last scan that reported the host's services
    saw it: the host's software inventory, which feeds are matched against.

    Ingest replaces a host's rows with what a scan or import reported for it (a
    host reported without services keeps its rows: a discovery, or a file that
    lists no services, says nothing about them).
    """

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+", db_index=False)
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="services")
    port = models.PositiveIntegerField()
    protocol = models.CharField(max_length=8)
    # nmap's service name ("http", "ssh"), product, version and extra info.
    name = models.CharField(max_length=64, blank=True)
    product = models.CharField(max_length=255, blank=True)
    version = models.CharField(max_length=255, blank=True)
    extra = models.CharField(max_length=255, blank=True)
    tunnel = models.CharField(max_length=16, blank=True)
    # nmap's CPEs for the service: ["cpe:/a:openbsd:openssh:7.4"].
    cpes = models.JSONField(default=list, blank=True)
    # What a check read from the service ("SSH-2.0-OpenSSH_7.4", "Server: nginx/1.18.0").
    banner = models.TextField(blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["host", "protocol", "port"]
        constraints = [
            models.UniqueConstraint(
                fields=["host", "port", "protocol"], name="host_service_unique"
            ),
        ]
        # A network's inventory, host by host (feed re-evaluation).
        indexes = [models.Index(fields=["network", "host"], name="host_service_by_network")]

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol} on {self.host}"

    @property
    def product_display(self) -> str:
        return " ".join(p for p in (self.product, self.version) if p)


# --- Option profiles, scans, slices -------------------------------------------------


class TcpPortSet(models.TextChoices):
    STANDARD = "standard", "Standard (nmap's 1,000 most common ports)"
    ALL = "all", "All (1-65535)"
    CUSTOM = "custom", "Custom list and ranges"


class OptionProfile(models.Model):
    """How a scan probes: which ports, service detection, which checks, how fast."""

    name = models.CharField(max_length=100)
    tcp_port_set = models.CharField(
        max_length=16, choices=TcpPortSet.choices, default=TcpPortSet.STANDARD
    )
    # With tcp_port_set "custom": an nmap port list such as "22,80,443,8000-8100".
    tcp_ports = models.CharField(max_length=1000, blank=True)
    # Empty: no UDP scan.
    udp_ports = models.CharField(max_length=1000, blank=True)
    service_detection = models.BooleanField(default=True)
    # Check module names; empty: every check.
    checks = models.JSONField(default=list, blank=True)
    max_parallel_hosts = models.PositiveSmallIntegerField(default=16)
    host_timeout = models.PositiveIntegerField(default=300, help_text="Seconds per host.")
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="option_profile_name_unique_ci"),
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="option_profile_one_default",
            ),
            models.CheckConstraint(
                condition=models.Q(max_parallel_hosts__gte=1), name="option_profile_parallel_min"
            ),
            models.CheckConstraint(
                condition=models.Q(host_timeout__gte=1), name="option_profile_timeout_min"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("scans:option_profile_update", args=[self.pk])

    @property
    def nmap_tcp_ports(self) -> str:
        """The engine's port spec: "" is nmap's standard set."""
        if self.tcp_port_set == TcpPortSet.ALL:
            return "1-65535"
        if self.tcp_port_set == TcpPortSet.CUSTOM:
            return self.tcp_ports
        return ""

    @property
    def tcp_ports_display(self) -> str:
        if self.tcp_port_set == TcpPortSet.CUSTOM:
            return self.tcp_ports
        return self.get_tcp_port_set_display()


class ScanType(models.TextChoices):
    DISCOVERY = "discovery", "Discovery"
    VULNERABILITY = "vulnerability", "Vulnerability"


class ScanStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    CANCELED = "canceled", "Canceled"
    ERROR = "error", "Error"


DONE_SCAN_STATUSES = (ScanStatus.FINISHED, ScanStatus.CANCELED, ScanStatus.ERROR)


class ScanKind(models.TextChoices):
    SCAN = "scan", "Scan"
    IMPORT = "import", "Import"
    # A feed's re-evaluation of a network's stored inventories (no probe).
    FEED = "feed", "Feed"


class Scan(models.Model):
    """A discovery or vulnerability scan of targets in one network, or an import
    (kind "import": another scanner's file, with its ``ScanImport``), which shares
    the scan's history, hosts found and ingest."""

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=ScanKind.choices, default=ScanKind.SCAN)
    type = models.CharField(max_length=16, choices=ScanType.choices)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="scans")
    # Null: "All Scanners in Network".
    appliance = models.ForeignKey(
        ScannerAppliance, null=True, blank=True, on_delete=models.SET_NULL, related_name="scans"
    )
    # Normalised text of the typed IPs/ranges (asset groups are kept apart).
    targets = models.TextField(blank=True)
    asset_groups = models.ManyToManyField("assets.AssetGroup", blank=True, related_name="scans")
    # Null only for imports (nothing was probed).
    option_profile = models.ForeignKey(
        OptionProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="scans"
    )
    schedule = models.ForeignKey(
        "Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="scans"
    )
    # Kind "feed": the feed import whose knowledge this run matched.
    feed = models.ForeignKey(
        "FeedImport", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    status = models.CharField(max_length=16, choices=ScanStatus.choices, default=ScanStatus.QUEUED)
    # Why a scan waits or failed, in words for the user.
    status_reason = models.CharField(max_length=500, blank=True)
    hosts_total = models.PositiveBigIntegerField(default=0)
    hosts_done = models.PositiveBigIntegerField(default=0)
    # Sum over the slices of percent x addresses: the progress bar's estimate
    # (it moves while nmap works on hosts that are not finished yet).
    progress_points = models.PositiveBigIntegerField(default=0)
    # What an appliance last said it was doing for this scan (SlicePhase).
    phase = models.CharField(max_length=16, blank=True)
    hosts_found = models.PositiveIntegerField(default=0)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["network", "-created_at"]),
            # The Scans list, newest first: its first page reads 50 index
            # entries instead of sorting every scan joined with its relations.
            models.Index(fields=["-created_at", "-id"], name="scan_newest_first"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        if self.kind == ScanKind.IMPORT:
            return reverse("scans:import_detail", args=[self.pk])
        return reverse("scans:scan_detail", args=[self.pk])

    @property
    def is_done(self) -> bool:
        return self.status in DONE_SCAN_STATUSES

    @property
    def is_import(self) -> bool:
        return self.kind == ScanKind.IMPORT

    @property
    def nothing_imported(self) -> bool:
        """An import that ended in error before it wrote a host (a malformed file,
        hosts outside the network): no findings to show, no bar to draw."""
        return self.is_import and self.status == ScanStatus.ERROR and not self.hosts_done

    @property
    def progress(self) -> int:
        if self.status == ScanStatus.FINISHED:
            return 100
        if self.kind == ScanKind.IMPORT:
            return self.import_file.progress
        if not self.hosts_total:
            return 0
        estimate = max(self.progress_points, 100 * self.hosts_done) // self.hosts_total
        return min(100, int(estimate))

    @property
    def phase_display(self) -> str:
        return SlicePhase(self.phase).label if self.phase in SlicePhase.values else ""

    @property
    def scanner_display(self) -> str:
        if self.kind == ScanKind.IMPORT:
            return f"Import ({self.import_file.get_format_display()})"
        if self.kind == ScanKind.FEED:
            return "Feed re-evaluation (no probe)"
        return self.appliance.name if self.appliance_id else "All Scanners in Network"


class ImportFormat(models.TextChoices):
    NMAP = "nmap", "nmap XML"
    OPENVAS = "openvas", "Greenbone/OpenVAS XML"
    NESSUS = "nessus", "Nessus .nessus v2"
    QUALYS = "qualys", "Qualys XML"


class ScanImport(models.Model):
    """The file behind a scan of kind "import": what it was, and what became of it.

    Its primary key is its scan's: ``imports/5/`` and ``scans/5/`` are one record.
    """

    scan = models.OneToOneField(
        Scan, on_delete=models.CASCADE, primary_key=True, related_name="import_file"
    )
    format = models.CharField(max_length=16, choices=ImportFormat.choices)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # The upload under MEDIA_ROOT/imports/ until the import ends (then deleted).
    file = models.FileField(upload_to="imports/", max_length=500, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    hosts = models.PositiveIntegerField(default=0)
    findings = models.PositiveIntegerField(default=0)
    # Hosts of the file not imported: [{"host": "web01", "reason": "host name only"}].
    skipped = models.JSONField(default=list, blank=True)
    # Batches already written: a redelivered task resumes after them.
    batches_done = models.PositiveIntegerField(default=0)
    # The same file imported into the same network before: nothing was written.
    duplicate_of = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["sha256"])]

    def __str__(self) -> str:
        return self.filename


class SliceStatus(models.TextChoices):
    PENDING = "pending", "Waiting for an appliance"
    DISPATCHED = "dispatched", "Sent to appliance"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    ERROR = "error", "Error"
    CANCELED = "canceled", "Canceled"


OPEN_SLICE_STATUSES = (SliceStatus.PENDING, SliceStatus.DISPATCHED, SliceStatus.RUNNING)
# Slices an appliance holds: in its queue or running.
IN_FLIGHT_SLICE_STATUSES = (SliceStatus.DISPATCHED, SliceStatus.RUNNING)


class SlicePhase(models.TextChoices):
    """What an appliance is doing with a slice (core.results.PHASES)."""

    DISCOVERY = "discovery", "Discovery"
    SERVICES = "services", "Service detection"
    CHECKS = "checks", "Checks"


class ScanSlice(models.Model):
    """One appliance's share of a scan's targets."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="slices")
    number = models.PositiveSmallIntegerField()
    targets = models.TextField()
    addresses = models.PositiveBigIntegerField(default=0)
    addresses_done = models.PositiveBigIntegerField(default=0)
    appliance = models.ForeignKey(
        ScannerAppliance,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="slices",
    )
    status = models.CharField(
        max_length=16, choices=SliceStatus.choices, default=SliceStatus.PENDING
    )
    # Times the slice was sent to an appliance (more than one after a failover).
    attempts = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    # Since when its appliance, alive, has not held it: not listed while it
    # runs, or not taken while sent and the appliance had a free slot
    # (scans.services.failover); None while it holds it.
    unheld_since = models.DateTimeField(null=True, blank=True)
    # Set once, by the first ingest of this slice's result; repeats are ignored.
    ingested_at = models.DateTimeField(null=True, blank=True)
    ingested_from = models.CharField(max_length=64, blank=True)
    hosts_found = models.PositiveIntegerField(default=0)
    # The appliance's last report while it ran the slice: its phase and its
    # estimate of the work done (0-100); reset when the slice is sent again.
    phase = models.CharField(max_length=16, choices=SlicePhase.choices, blank=True)
    percent = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["scan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["scan", "number"], name="scan_slice_unique_number"),
        ]
        indexes = [
            models.Index(fields=["status"]),
            # The next waiting slices, slice 1 of every scan before slice 2 of any.
            models.Index(fields=["status", "number", "scan"], name="scan_slice_next_waiting"),
            # An appliance's page: its slices, newest first.
            models.Index(fields=["appliance", "-dispatched_at"], name="scan_slice_by_appliance"),
        ]

    def __str__(self) -> str:
        return f"{self.scan} slice {self.number}"

    @property
    def progress(self) -> int:
        if self.status == SliceStatus.DONE or self.ingested_at is not None:
            return 100
        if not self.addresses:
            return self.percent
        return max(self.percent, 100 * self.addresses_done // self.addresses)


class FailoverWatch(models.Model):
    """One row: when the platform last checked its appliances for failover, and
    since when it has checked them without a break.

    An appliance is judged offline only over time the platform was listening.
    While the broker is down, the beat stopped or the central worker stalled,
    heartbeats are lost or wait in the queue, and a stale last heartbeat says
    nothing about the appliance: judging by it would take slices away from
    appliances that never stopped (``slices_reassign``).
    """

    checked_at = models.DateTimeField()
    listening_since = models.DateTimeField()

    def __str__(self) -> str:
        return (
            f"checked {self.checked_at:%Y-%m-%d %H:%M:%S}, listening since {self.listening_since}"
        )

    @staticmethod
    def break_after() -> timedelta:
        """So long without a check is a break in listening: half the offline
        limit (the beat sends a check every heartbeat interval), never less
        than two intervals, or checks at the beat's own pace would each count
        as one and nobody would ever be judged offline."""
        return timedelta(
            seconds=max(
                settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER / 2,
                2 * settings.ENCLAVE_HEARTBEAT_INTERVAL,
            )
        )

    @property
    def judging_from(self) -> datetime:
        """When appliances are judged again: a whole offline limit of listening."""
        return self.listening_since + timedelta(seconds=settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER)


class ScanHost(models.Model):
    """A host a scan found up, with what the scan saw on it."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="scan_hosts")
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="scan_hosts")
    # Findings this scan saw on the host by severity: {"1": n, ... "5": n}.
    findings = models.JSONField(default=dict, blank=True)
    findings_total = models.PositiveIntegerField(default=0)
    services = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["scan", "host__ip_key"]
        constraints = [
            models.UniqueConstraint(fields=["scan", "host"], name="scan_host_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.host} in {self.scan}"


class Recurrence(models.TextChoices):
    ONCE = "once", "Once"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class Schedule(models.Model):
    """A recurring scan; its network and appliance may change between runs.

    Runs fall on the calendar from ``start`` (same time of day; weekly on the
    same weekday; monthly on the same day, or the month's last day when it is
    shorter). ``next_run`` is null once a one-time schedule has run.
    """

    title = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=ScanType.choices)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="schedules")
    # Null: "All Scanners in Network".
    appliance = models.ForeignKey(
        ScannerAppliance,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="schedules",
    )
    # Normalised text of the typed IPs/ranges (asset groups are kept apart).
    targets = models.TextField(blank=True)
    asset_groups = models.ManyToManyField("assets.AssetGroup", blank=True, related_name="schedules")
    option_profile = models.ForeignKey(
        OptionProfile, on_delete=models.PROTECT, related_name="schedules"
    )
    recurrence = models.CharField(max_length=16, choices=Recurrence.choices)
    start = models.DateTimeField()
    next_run = models.DateTimeField(null=True, blank=True, db_index=True)
    active = models.BooleanField(default=True)
    # The scans run as this user (who must still be allowed to launch scans).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="schedules",
    )
    last_scan = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Why the last run launched nothing, in words for the user; "" after a launch.
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [models.F("next_run").asc(nulls_last=True), "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recurrence__in=Recurrence.values),
                name="schedule_recurrence_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=ScanType.values), name="schedule_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("scans:schedule_detail", args=[self.pk])

    @property
    def scanner_display(self) -> str:
        return self.appliance.name if self.appliance_id else "All Scanners in Network"


# --- Feeds: NVD CVEs, CISA KEV, EPSS --------------------------------------------------------


class FeedKind(models.TextChoices):
    NVD = "nvd", "NVD CVE JSON 2.0"
    KEV = "kev", "CISA Known Exploited Vulnerabilities"
    EPSS = "epss", "FIRST EPSS scores"


class FeedImport(models.Model):
    """One feed file brought in: what it was, who brought it, what it changed.

    ``changed`` counts what the import did: {"added", "updated", "unchanged",
    "rejected"} (NVD records), {"added", "updated", "unchanged"} (KEV entries,
    EPSS scores). A malformed file ends in error with the reason and changes
    nothing; the same file (SHA-256) again ends at once naming the first.
    """

    kind = models.CharField(max_length=8, choices=FeedKind.choices)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # The upload under MEDIA_ROOT/feeds/ until the import ends (then deleted).
    file = models.FileField(upload_to="feeds/", max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=ScanStatus.choices, default=ScanStatus.QUEUED)
    error = models.TextField(blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    records = models.PositiveIntegerField(default=0)
    changed = models.JSONField(default=dict, blank=True)
    # Batches already written: a redelivered task resumes after them.
    batches_done = models.PositiveIntegerField(default=0)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["sha256"])]

    def __str__(self) -> str:
        return self.filename

    def get_absolute_url(self) -> str:
        return reverse("scans:feed_detail", args=[self.pk])

    @property
    def is_done(self) -> bool:
        return self.status in DONE_SCAN_STATUSES

    @property
    def changed_items(self) -> list[tuple[str, int]]:
        """``changed`` in a fixed order (the database may keep a JSON object's keys
        in another)."""
        order = ("added", "updated", "unchanged", "rejected")
        known = [(key, self.changed[key]) for key in order if key in self.changed]
        return known + sorted((k, n) for k, n in self.changed.items() if k not in order)

    @property
    def changed_total(self) -> int:
        return sum(n for key, n in self.changed.items() if key != "unchanged")


class FeedCve(models.Model):
    """One CVE as the last NVD feed that held it describes it, with its KB entry
    (source "nvd", external id the CVE id). ``record`` is the parsed record
    (``scans.feeds.nvd.CveRecord.to_dict``), from which re-evaluation builds its
    match index; ``fingerprint`` tells an unchanged record on re-import."""

    cve_id = models.CharField(max_length=32, unique=True)
    vulnerability = models.OneToOneField(
        Vulnerability, on_delete=models.CASCADE, db_column="qid", related_name="feed_cve"
    )
    fingerprint = models.CharField(max_length=64)
    last_modified = models.DateTimeField(null=True, blank=True)
    rejected = models.BooleanField(default=False)
    record = models.JSONField()

    def __str__(self) -> str:
        return self.cve_id


class FeedCveProduct(models.Model):
    """The products (canonical vendor:product, ``matcher.canonical``) a CVE's
    criteria name: re-evaluation reads only the CVEs of products an inventory holds."""

    cve = models.ForeignKey(FeedCve, on_delete=models.CASCADE, related_name="products")
    product = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "cve"], name="feed_cve_product_unique"),
        ]

    def __str__(self) -> str:
        return self.product


class CveIntel(models.Model):
    """What the KEV catalog and EPSS scores say of one CVE (whether or not NVD's
    feed was imported); copied onto the KB entries that name the CVE."""

    cve_id = models.CharField(max_length=32, unique=True)
    kev_date_added = models.DateField(null=True, blank=True)
    kev_due_date = models.DateField(null=True, blank=True)
    kev_ransomware = models.BooleanField(default=False)
    kev_name = models.CharField(max_length=300, blank=True)
    epss = models.FloatField(null=True, blank=True)
    epss_percentile = models.FloatField(null=True, blank=True)
    epss_date = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return self.cve_id

    @property
    def known_exploited(self) -> bool:
        return self.kev_date_added is not None
