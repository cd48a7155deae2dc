from django.conf import settings
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Role
from assets import api as assets_api
from assets.models import AssetGroup
from console.api import LOOKUP_ANY, TypedJSONMixin
from networks.api import CountedByNetworks, ScopedPrimaryKeyField
from networks.models import Network, ScannerAppliance

from . import selectors, services
from .filters import DetectionFilterSet, ImportFilterSet, ScanFilterSet, VulnerabilityFilterSet
from .models import (
    Detection,
    FeedImport,
    FeedKind,
    HostService,
    ImportFormat,
    KbSource,
    OptionProfile,
    Recurrence,
    Scan,
    ScanStatus,
    ScanType,
    Schedule,
    TcpPortSet,
    Vulnerability,
)
from .services.feeds import feed_import_create
from .services.imports import import_create

# --- Option profiles --------------------------------------------------------------------


class OptionProfileSerializer(TypedJSONMixin, serializers.ModelSerializer):
    tcp_port_set = serializers.ChoiceField(choices=TcpPortSet.choices, required=False)
    tcp_ports = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text='"standard", "all", or a list such as "22,80,443,8000-8100".',
    )
    checks = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = OptionProfile
        fields = [
            "id",
            "name",
            "tcp_port_set",
            "tcp_ports",
            "udp_ports",
            "service_detection",
            "checks",
            "max_parallel_hosts",
            "host_timeout",
            "is_default",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.tcp_port_set != TcpPortSet.CUSTOM:
            data["tcp_ports"] = instance.tcp_port_set
        return data

    def validate(self, attrs):
        # "tcp_ports" may also say "standard" or "all" (API.md names one field).
        ports = attrs.get("tcp_ports")
        if ports in (TcpPortSet.STANDARD, TcpPortSet.ALL):
            attrs["tcp_port_set"], attrs["tcp_ports"] = ports, ""
        elif ports and "tcp_port_set" not in attrs:
            attrs["tcp_port_set"] = TcpPortSet.CUSTOM
        return attrs


class OptionProfileViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = OptionProfileSerializer
    read_role, write_role = Role.READER, Role.SCANNER
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = LOOKUP_ANY

    def get_queryset(self):
        return OptionProfile.objects.order_by("id")

    def perform_create(self, serializer):
        serializer.instance = services.option_profile_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.option_profile_update(
            actor=self.request.user, profile=serializer.instance, **serializer.validated_data
        )


# --- Scans ---------------------------------------------------------------------------------


class ScanFieldsSerializer(TypedJSONMixin, serializers.ModelSerializer):
    """What a scan and a schedule share. Without ``network`` on create: an error,
    or Global Default when network support is off."""

    type = serializers.ChoiceField(choices=ScanType.choices)
    network = ScopedPrimaryKeyField(scope="", queryset=Network.objects.all(), required=False)
    appliance = ScopedPrimaryKeyField(
        queryset=ScannerAppliance.objects.select_related("network"),
        allow_null=True,
        required=False,
        help_text="null: All Scanners in Network.",
    )
    targets = serializers.CharField(required=False, allow_blank=True)
    asset_groups = ScopedPrimaryKeyField(
        many=True, required=False, queryset=AssetGroup.objects.select_related("network")
    )
    option_profile = serializers.PrimaryKeyRelatedField(
        queryset=OptionProfile.objects.all(), required=False, allow_null=True
    )
    network_name = serializers.CharField(source="network.name", read_only=True)

    def validate(self, attrs):
        if self.instance is None and "network" not in attrs:
            if settings.ENCLAVE_NETWORKS_ENABLED:
                raise serializers.ValidationError({"network": ["This field is required."]})
            attrs["network"] = Network.objects.global_default()
        return attrs


class ScanSerializer(ScanFieldsSerializer):
    status = serializers.ChoiceField(choices=ScanStatus.choices, read_only=True)
    progress = serializers.IntegerField(read_only=True)

    class Meta:
        model = Scan
        fields = [
            "id",
            "title",
            "type",
            "network",
            "network_name",
            "appliance",
            "targets",
            "asset_groups",
            "option_profile",
            "status",
            "status_reason",
            "progress",
            "hosts_total",
            "hosts_done",
            "hosts_found",
            "created_at",
            "started",
            "finished",
        ]
        read_only_fields = [
            "status_reason",
            "hosts_total",
            "hosts_done",
            "hosts_found",
            "created_at",
            "started",
            "finished",
        ]


class ScanViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Scans: POST launches (Scanner or Manager) and returns at once."""

    serializer_class = ScanSerializer
    filterset_class = ScanFilterSet
    read_role, write_role = Role.READER, Role.SCANNER
    lookup_value_regex = LOOKUP_ANY

    def get_queryset(self):
        return (
            selectors.scan_list(user=self.request.user)
            .prefetch_related("asset_groups")
            .order_by("-id")
        )

    def perform_create(self, serializer):
        serializer.instance = services.scan_launch(
            actor=self.request.user, **serializer.validated_data
        )

    @extend_schema(request=None, responses=ScanSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        scan = self.get_object()
        scan = services.scan_cancel(actor=request.user, scan=scan)
        return Response(self.get_serializer(scan).data, status=status.HTTP_200_OK)


# --- Schedules -------------------------------------------------------------------------------


class ScheduleSerializer(ScanFieldsSerializer):
    recurrence = serializers.ChoiceField(choices=Recurrence.choices)
    start = serializers.DateTimeField(
        required=False, help_text="The first run; later runs follow it on the calendar."
    )
    next_run = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Out: when the next scan launches (null: finished). In: the same as start.",
    )
    owner = serializers.CharField(
        source="owner.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Schedule
        fields = [
            "id",
            "title",
            "type",
            "network",
            "network_name",
            "appliance",
            "targets",
            "asset_groups",
            "option_profile",
            "recurrence",
            "start",
            "next_run",
            "active",
            "owner",
            "last_scan",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["last_scan", "last_error", "created_at", "updated_at"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        # API.md names next_run as a field: written, it sets the (first) run.
        next_run = attrs.pop("next_run", None)
        if next_run is not None and "start" not in attrs:
            attrs["start"] = next_run
        if self.instance is None and "start" not in attrs:
            raise serializers.ValidationError({"start": ["Give start (or next_run)."]})
        return attrs


class ScheduleViewSet(viewsets.ModelViewSet):
    """Schedules: Scanners and Managers write, everyone reads. PATCH may move one to
    another network; it is validated like a launch."""

    serializer_class = ScheduleSerializer
    read_role, write_role = Role.READER, Role.SCANNER
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = LOOKUP_ANY

    def get_queryset(self):
        return selectors.schedule_list(user=self.request.user).order_by("id")

    def perform_create(self, serializer):
        serializer.instance = services.schedule_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.schedule_update(
            actor=self.request.user, schedule=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.schedule_delete(actor=self.request.user, schedule=instance)


# --- Hosts with their findings -----------------------------------------------------------


class ExploitationFields(serializers.Serializer):
    """Known exploited (CISA KEV) and EPSS of the detection's KB entry (feeds)."""

    known_exploited = serializers.BooleanField(
        source="vulnerability.known_exploited", read_only=True
    )
    epss = serializers.FloatField(source="vulnerability.epss", read_only=True, allow_null=True)


class HostDetectionSerializer(ExploitationFields, serializers.ModelSerializer):
    qid = serializers.IntegerField(source="vulnerability_id")
    title = serializers.CharField(source="vulnerability.title")
    source = serializers.CharField(source="vulnerability.source", read_only=True)
    reference = serializers.CharField(source="vulnerability.reference", read_only=True)

    class Meta:
        model = Detection
        fields = [
            "id",
            "qid",
            "title",
            "source",
            "reference",
            "severity",
            "status",
            "port",
            "protocol",
            "first_found",
            "last_found",
            "times_found",
            "results",
        ]


class HostServiceSerializer(serializers.ModelSerializer):
    """One open port of the host's service inventory (nmap's service facts)."""

    class Meta:
        model = HostService
        fields = [
            "port",
            "protocol",
            "name",
            "product",
            "version",
            "extra",
            "tunnel",
            "cpes",
            "banner",
            "first_seen",
            "last_seen",
        ]


class HostDetailSerializer(assets_api.HostSerializer):
    detections = HostDetectionSerializer(many=True, read_only=True)
    services = HostServiceSerializer(many=True, read_only=True)

    class Meta(assets_api.HostSerializer.Meta):
        fields = [*assets_api.HostSerializer.Meta.fields, "detections", "services"]


class HostViewSet(assets_api.HostViewSet):
    """Hosts (assets), and in the detail each host's current detections."""

    def get_queryset(self):
        hosts = super().get_queryset()
        if self.action == "retrieve":
            hosts = hosts.prefetch_related(
                Prefetch(
                    "detections",
                    queryset=Detection.objects.select_related("vulnerability").order_by(
                        "-severity", "vulnerability_id", "port"
                    ),
                ),
                Prefetch("services", queryset=HostService.objects.order_by("protocol", "port")),
            )
        return hosts

    def get_serializer_class(self):
        return HostDetailSerializer if self.action == "retrieve" else super().get_serializer_class()


# --- Detections and the KB ---------------------------------------------------------------


class DetectionSerializer(ExploitationFields, serializers.ModelSerializer):
    network_name = serializers.CharField(source="network.name", read_only=True)
    ip = serializers.CharField(source="host.ip", read_only=True)
    qid = serializers.IntegerField(source="vulnerability_id", read_only=True)
    title = serializers.CharField(source="vulnerability.title", read_only=True)
    source = serializers.ChoiceField(
        source="vulnerability.source", choices=KbSource.choices, read_only=True
    )
    reference = serializers.CharField(
        source="vulnerability.reference",
        read_only=True,
        help_text='How the source names it: "38700" (Enclave), "Nessus 19506".',
    )

    class Meta:
        model = Detection
        fields = [
            "id",
            "host",
            "network",
            "network_name",
            "ip",
            "qid",
            "title",
            "source",
            "reference",
            "severity",
            "status",
            "port",
            "protocol",
            "first_found",
            "last_found",
            "times_found",
            "fixed_at",
            "results",
            "known_exploited",
            "epss",
        ]


class DetectionViewSet(CountedByNetworks, viewsets.ReadOnlyModelViewSet):
    """Detections of every status. The whole list, or one network's, is counted
    by the networks' detection counters (ingest and host deletions move them)."""

    serializer_class = DetectionSerializer
    filterset_class = DetectionFilterSet
    read_role = Role.READER
    lookup_value_regex = LOOKUP_ANY
    network_counter = "detection_count"

    def get_queryset(self):
        return selectors.detection_list(user=self.request.user).order_by("id")


class VulnerabilitySerializer(serializers.ModelSerializer):
    cvss = serializers.FloatField(allow_null=True)
    reference = serializers.CharField(read_only=True)

    class Meta:
        model = Vulnerability
        fields = [
            "qid",
            "source",
            "external_id",
            "reference",
            "title",
            "severity",
            "kind",
            "cvss",
            "cves",
            "known_exploited",
            "kev_date_added",
            "kev_due_date",
            "epss",
            "epss_percentile",
            "category",
            "diagnosis",
            "consequence",
            "solution",
        ]


@extend_schema_view(
    retrieve=extend_schema(
        parameters=[OpenApiParameter("qid", int, OpenApiParameter.PATH, description="The QID.")]
    )
)
class KnowledgeBaseViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = VulnerabilitySerializer
    filterset_class = VulnerabilityFilterSet
    read_role = Role.READER
    lookup_field = "qid"
    lookup_value_regex = LOOKUP_ANY

    def get_queryset(self):
        return Vulnerability.objects.order_by("qid")


# --- Imports -----------------------------------------------------------------------------


class SkippedHostSerializer(serializers.Serializer):
    host = serializers.CharField()
    reason = serializers.CharField()


class ImportSerializer(serializers.ModelSerializer):
    """An import: a scan of kind "import" and its file (ids shared with scans/)."""

    network_name = serializers.CharField(source="network.name", read_only=True)
    format = serializers.ChoiceField(
        source="import_file.format", choices=ImportFormat.choices, read_only=True
    )
    filename = serializers.CharField(source="import_file.filename", read_only=True)
    size = serializers.IntegerField(source="import_file.size", read_only=True)
    status = serializers.ChoiceField(choices=ScanStatus.choices, read_only=True)
    progress = serializers.IntegerField(read_only=True)
    hosts = serializers.IntegerField(source="import_file.hosts", read_only=True)
    findings = serializers.IntegerField(source="import_file.findings", read_only=True)
    skipped = SkippedHostSerializer(source="import_file.skipped", many=True, read_only=True)
    duplicate_of = serializers.IntegerField(
        source="import_file.duplicate_of_id", read_only=True, allow_null=True
    )
    created_by = serializers.CharField(
        source="launched_by.username", read_only=True, default=None, allow_null=True
    )
    created = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Scan
        fields = [
            "id",
            "network",
            "network_name",
            "format",
            "filename",
            "size",
            "status",
            "status_reason",
            "progress",
            "hosts",
            "findings",
            "skipped",
            "duplicate_of",
            "created_by",
            "created",
            "started",
            "finished",
        ]
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer):
    """POST multipart: the file, the network it belongs to, and optionally its format."""

    file = serializers.FileField(required=False)
    network = ScopedPrimaryKeyField(
        scope="", queryset=Network.objects.all(), required=False, allow_null=True
    )
    format = serializers.ChoiceField(
        choices=ImportFormat.choices,
        required=False,
        allow_blank=True,
        help_text="Detected from the file when absent.",
    )


class ImportViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Imports of other scanners' result files: POST (Scanner or Manager) stores the
    file and answers at once; the import runs in the background (``status``,
    ``progress``)."""

    serializer_class = ImportSerializer
    filterset_class = ImportFilterSet
    read_role, write_role = Role.READER, Role.SCANNER
    lookup_value_regex = LOOKUP_ANY

    def get_queryset(self):
        return selectors.import_list(user=self.request.user).order_by("-id")

    @extend_schema(request=ImportUploadSerializer, responses={201: ImportSerializer})
    def create(self, request, *args, **kwargs):
        upload = ImportUploadSerializer(data=request.data, context={"request": request})
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        scan = import_create(
            actor=request.user,
            network=data.get("network"),
            file=data.get("file"),
            format=data.get("format") or "",
        )
        scan = self.get_queryset().get(pk=scan.pk)
        return Response(self.get_serializer(scan).data, status=status.HTTP_201_CREATED)


# --- Feeds -------------------------------------------------------------------------------------


class FeedImportSerializer(serializers.ModelSerializer):
    """A feed file imported: NVD CVEs, CISA KEV or EPSS scores."""

    kind = serializers.ChoiceField(choices=FeedKind.choices, read_only=True)
    status = serializers.ChoiceField(choices=ScanStatus.choices, read_only=True)
    changed = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text='What the import changed: {"added", "updated", "unchanged", "rejected"} '
        '(NVD records) or {"added", "updated", "unchanged"} (KEV entries, EPSS scores).',
    )
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )
    created = serializers.DateTimeField(source="created_at", read_only=True)
    runs = serializers.SerializerMethodField(
        help_text="The re-evaluation runs (scans of kind feed) it started, one per network."
    )

    class Meta:
        model = FeedImport
        fields = [
            "id",
            "kind",
            "filename",
            "size",
            "sha256",
            "status",
            "error",
            "progress",
            "records",
            "changed",
            "duplicate_of",
            "created_by",
            "created",
            "started",
            "finished",
            "runs",
        ]
        read_only_fields = fields

    def get_runs(self, feed) -> list[int]:
        return [run.pk for run in feed.runs.all()]


class FeedUploadSerializer(serializers.Serializer):
    """POST multipart: the feed file (its kind is told by its content)."""

    file = serializers.FileField(required=False)


class FeedImportViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Feed files (Managers only): POST stores the file and answers at once; the import
    runs in the background (``status``, ``progress``), then the re-evaluation runs."""

    serializer_class = FeedImportSerializer
    read_role = write_role = Role.MANAGER
    lookup_value_regex = LOOKUP_ANY

    def get_queryset(self):
        return selectors.feed_import_list().prefetch_related("runs")

    @extend_schema(request=FeedUploadSerializer, responses={201: FeedImportSerializer})
    def create(self, request, *args, **kwargs):
        upload = FeedUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        feed = feed_import_create(actor=request.user, file=upload.validated_data.get("file"))
        feed = self.get_queryset().get(pk=feed.pk)
        return Response(self.get_serializer(feed).data, status=status.HTTP_201_CREATED)


def register(router) -> None:
    """Registers this app's REST resources (API.md) on the /api/v1/ router."""
    router.register("hosts", HostViewSet, basename="host")
    router.register("scans", ScanViewSet, basename="scan")
    router.register("schedules", ScheduleViewSet, basename="schedule")
    router.register("option-profiles", OptionProfileViewSet, basename="option-profile")
    router.register("detections", DetectionViewSet, basename="detection")
    router.register("kb", KnowledgeBaseViewSet, basename="kb")
    router.register("imports", ImportViewSet, basename="import")
    router.register("feeds", FeedImportViewSet, basename="feed")
