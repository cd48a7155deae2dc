from django.http import QueryDict
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Role
from assets.models import AssetGroup, Tag
from console.api import LOOKUP_ANY, TypedJSONMixin

from . import selectors, services
from .downloads import report_file_response
from .models import Report, ReportFormat, ReportTemplate


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
    asset_groups = serializers.PrimaryKeyRelatedField(
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


class ReportViewSet(
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Reports: every role runs them; each user sees (and deletes) their own,
    Managers everyone's. ``download/`` returns the file once ``status`` is finished."""

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
        incoming = ReportCreateSerializer(data=request.data)
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


def register(router) -> None:
    router.register("reports", ReportViewSet, basename="report")
