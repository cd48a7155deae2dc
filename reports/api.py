from django.http import QueryDict
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Role, User
from assets.models import AssetGroup, Tag
from console.api import LOOKUP_ANY, TypedJSONMixin
from networks.api import ScopedPrimaryKeyField

from . import selectors, services
from .downloads import report_file_response
from .models import (
    Report,
    ReportDelivery,
    ReportFormat,
    ReportRecurrence,
    ReportSchedule,
    ReportTemplate,
)


class ReportSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    network = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "id",
            "title",
            "owner",
            "template",
            "sort",
            "format",
            "asset_groups",
            "targets",
            "network",
            "tags",
            "severities",
            "statuses",
            "kinds",
            "include_evidence",
            "include_details",
            "group_by_network",
            "schedule",
            "status",
            "progress",
            "size",
            "hosts_count",
            "findings_count",
            "error",
            "created_at",
            "finished_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_network(self, report) -> int | str | None:
        if not report.targets:
            return None
        return report.target_network_id or "all"

    def get_download_url(self, report) -> str | None:
        if not report.is_downloadable:
            return None
        url = reverse("report-download", args=[report.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "enum": ["all"]}]})
class NetworkOrAllField(serializers.Field):
    """A network's id, or "all". The service says whether the network exists."""

    default_error_messages = {"invalid": 'Give a network id (a number) or "all".'}

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool) or data == "all":
            return data
        if isinstance(data, str) and isinstance(self.parent.initial_data, QueryDict):
            return data  # a form's text: "3" or "all"
        self.fail("invalid")

    def to_representation(self, value):
        return value


class ReportCreateSerializer(TypedJSONMixin, serializers.Serializer):
    """POST body (API.md). Values are checked by the service, which names bad ones."""

    title = serializers.CharField(max_length=200)
    format = serializers.CharField(default=ReportFormat.PDF, help_text="pdf, csv or html")
    template = serializers.PrimaryKeyRelatedField(
        queryset=ReportTemplate.objects.all(), required=False, allow_null=True
    )
    sort = serializers.CharField(required=False, help_text="host or vulnerability")
    asset_groups = ScopedPrimaryKeyField(
        queryset=AssetGroup.objects.all(), many=True, required=False
    )
    targets = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Addresses, a-b ranges, CIDR."
    )
    network = NetworkOrAllField(
        required=False,
        default="all",
        help_text='Where the IPs/ranges of targets are: a network id, or "all" for every network.',
    )
    tags = serializers.PrimaryKeyRelatedField(queryset=Tag.objects.all(), many=True, required=False)
    severities = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="From 1 (minimal) to 5."
    )
    statuses = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="new, active, fixed, reopened"
    )
    kinds = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Vulnerability types: confirmed, potential, info.",
    )
    include_evidence = serializers.BooleanField(
        required=False, help_text="Print each finding's evidence (default: the template's)."
    )
    include_details = serializers.BooleanField(
        required=False,
        help_text="Print threat, impact, solution, CVEs and CVSS once per QID "
        "(default: the template's).",
    )
    group_by_network = serializers.BooleanField(
        required=False, help_text="Networks first, then the sort (default: the template's)."
    )


class ReportViewSet(
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Reports: every role runs them; each user sees (and deletes) their own,
    Managers everyone's; recipients of a scheduled report see it too (and may
    not delete it). ``download/`` returns the file once ``status`` is finished."""

    serializer_class = ReportSerializer
    # The model, for the schema; get_queryset() says which reports the caller sees.
    queryset = Report.objects.none()
    read_role = write_role = Role.READER
    http_method_names = ["get", "post", "delete", "head", "options"]
    lookup_value_regex = LOOKUP_ANY

    def get_queryset(self):
        return (
            selectors.reports_visible(user=self.request.user)
            .prefetch_related("asset_groups", "tags")
            .order_by("-id")
        )

    @extend_schema(request=ReportCreateSerializer, responses={201: ReportSerializer})
    def create(self, request, *args, **kwargs):
        incoming = ReportCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        report = services.report_create(actor=request.user, **data)
        return Response(
            ReportSerializer(report, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    def perform_destroy(self, instance):
        services.report_delete(actor=self.request.user, report=instance)

    @extend_schema(responses={200: OpenApiResponse(description="The report's file")})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        return report_file_response(self.get_object(), actor=request.user)


# --- report schedules ---------------------------------------------------------------------


class ReportScheduleSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    network = serializers.SerializerMethodField()

    class Meta:
        model = ReportSchedule
        fields = [
            "id",
            "title",
            "template",
            "format",
            "asset_groups",
            "targets",
            "network",
            "tags",
            "recurrence",
            "start",
            "recipients",
            "delivery",
            "active",
            "owner",
            "next_run",
            "last_run",
            "last_report",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_network(self, schedule) -> int | str | None:
        if not schedule.targets:
            return None
        return schedule.target_network_id or "all"


class ReportScheduleInputSerializer(TypedJSONMixin, serializers.Serializer):
    """POST and PATCH body (API.md). Values are checked by the service, which names
    bad ones; a PATCH changes the fields it gives and keeps the others."""

    title = serializers.CharField(max_length=200)
    template = serializers.PrimaryKeyRelatedField(queryset=ReportTemplate.objects.all())
    format = serializers.CharField(default=ReportFormat.PDF, help_text="pdf, csv or html")
    asset_groups = ScopedPrimaryKeyField(
        queryset=AssetGroup.objects.all(), many=True, required=False
    )
    targets = serializers.CharField(
        required=False, allow_blank=True, help_text="Addresses, a-b ranges, CIDR."
    )
    network = NetworkOrAllField(
        required=False,
        help_text='Where the IPs/ranges of targets are: a network id, or "all" for every network.',
    )
    tags = serializers.PrimaryKeyRelatedField(queryset=Tag.objects.all(), many=True, required=False)
    recurrence = serializers.CharField(help_text=", ".join(ReportRecurrence.values))
    start = serializers.DateTimeField(help_text="The first run; later runs follow its calendar.")
    recipients = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(),
        many=True,
        required=False,
        help_text="User ids; each needs an e-mail address.",
    )
    delivery = serializers.CharField(
        default=ReportDelivery.ATTACH,
        help_text="attach (the file, up to the size limit) or link (to the report's page)",
    )
    active = serializers.BooleanField(default=True)


class ReportScheduleViewSet(viewsets.ModelViewSet):
    """Report schedules: every role schedules reports; each user sees and changes
    their own, Managers everyone's (others' answer 404)."""

    serializer_class = ReportScheduleSerializer
    queryset = ReportSchedule.objects.none()
    read_role = write_role = Role.READER
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = LOOKUP_ANY

    def get_queryset(self):
        return (
            selectors.report_schedules_visible(user=self.request.user)
            .prefetch_related("asset_groups", "tags", "recipients")
            .order_by("id")
        )

    def _output(self, schedule, code=status.HTTP_200_OK) -> Response:
        schedule = self.get_queryset().get(pk=schedule.pk)
        return Response(
            ReportScheduleSerializer(schedule, context=self.get_serializer_context()).data,
            status=code,
        )

    @extend_schema(request=ReportScheduleInputSerializer, responses={201: ReportScheduleSerializer})
    def create(self, request, *args, **kwargs):
        incoming = ReportScheduleInputSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        schedule = services.report_schedule_create(actor=request.user, **incoming.validated_data)
        return self._output(schedule, status.HTTP_201_CREATED)

    @extend_schema(request=ReportScheduleInputSerializer, responses={200: ReportScheduleSerializer})
    def partial_update(self, request, *args, **kwargs):
        schedule = self.get_object()
        incoming = ReportScheduleInputSerializer(
            data=request.data, partial=True, context={"request": request}
        )
        incoming.is_valid(raise_exception=True)
        current = {
            "title": schedule.title,
            "template": schedule.template,
            "format": schedule.format,
            "asset_groups": list(schedule.asset_groups.all()),
            "targets": schedule.targets,
            "network": schedule.target_network or "all",
            "tags": list(schedule.tags.all()),
            "recurrence": schedule.recurrence,
            "start": schedule.start,
            "recipients": list(schedule.recipients.all()),
            "delivery": schedule.delivery,
            "active": schedule.active,
        }
        changed = services.report_schedule_update(
            actor=request.user, schedule=schedule, **{**current, **incoming.validated_data}
        )
        return self._output(changed)

    def perform_destroy(self, instance):
        services.report_schedule_delete(actor=self.request.user, schedule=instance)


def register(router) -> None:
    router.register("reports", ReportViewSet, basename="report")
    router.register("report-schedules", ReportScheduleViewSet, basename="report-schedule")
