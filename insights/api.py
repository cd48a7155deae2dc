"""REST resources of the insights app (API.md): trends/, search/."""

import django_filters
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.models import Role
from assets.api import HostSerializer
from networks.api import visible_networks_for
from networks.selectors import networks_visible
from scans.api import VulnerabilitySerializer

from . import selectors, vulnerabilities
from .forms import SORT_CHOICES, STATUS_CHOICES, VulnerabilityFilterForm
from .models import NetworkTrend


class TrendSerializer(serializers.ModelSerializer):
    network_name = serializers.CharField(source="network.name", read_only=True)

    class Meta:
        model = NetworkTrend
        fields = [
            "network",
            "network_name",
            "date",
            "hosts",
            "open_by_severity",
            "open_by_status",
            "new",
            "fixed",
            "mttr_days_by_severity",
            "backfilled",
        ]


class TrendFilterSet(django_filters.FilterSet):
    network = django_filters.ModelChoiceFilter(queryset=visible_networks_for)
    since = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    until = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = NetworkTrend
        fields = ["network", "since", "until"]


class TrendViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Daily figures per network: one row per network per day, oldest first."""

    serializer_class = TrendSerializer
    filterset_class = TrendFilterSet
    read_role = Role.READER
    queryset = NetworkTrend.objects.none()  # for the schema; rows come from get_queryset

    def get_queryset(self):
        return selectors.trend_rows(networks=networks_visible(user=self.request.user))


@extend_schema_serializer(many=False)  # one answer, though the route is a list's
class SearchResultSerializer(serializers.Serializer):
    query = serializers.CharField()
    kind = serializers.CharField(help_text="ip, range, name, qid, cve, or empty")
    hosts = HostSerializer(many=True, help_text="One per network holding the address.")
    vulnerabilities = VulnerabilitySerializer(many=True)
    more = serializers.BooleanField(help_text="More hosts matched than listed.")


class SearchViewSet(viewsets.ViewSet):
    """The global search: an IP (one host per network holding it), a range, a
    DNS name (its beginning), a QID or a CVE."""

    read_role = Role.READER

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="What to look for; empty: nothing.")],
        responses=SearchResultSerializer,
    )
    def list(self, request):
        results = selectors.search(q=request.query_params.get("q", ""), user=request.user)
        return Response(SearchResultSerializer(results).data)


class VulnerabilityRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    host = serializers.IntegerField(source="host_id")
    network = serializers.IntegerField(source="network_id")
    network_name = serializers.CharField(source="network.name")
    ip = serializers.CharField(source="host.ip")
    qid = serializers.IntegerField(source="vulnerability_id")
    source = serializers.CharField(source="vulnerability.source")
    reference = serializers.CharField(source="vulnerability.reference")
    title = serializers.CharField(source="vulnerability.title")
    severity = serializers.IntegerField()
    status = serializers.CharField()
    port = serializers.IntegerField()
    protocol = serializers.CharField()
    first_found = serializers.DateTimeField()
    last_found = serializers.DateTimeField()
    fixed_at = serializers.DateTimeField(allow_null=True)
    known_exploited = serializers.BooleanField(source="vulnerability.known_exploited")
    kev_due_date = serializers.DateField(source="vulnerability.kev_due_date", allow_null=True)
    epss = serializers.FloatField(source="vulnerability.epss", allow_null=True)
    epss_percentile = serializers.FloatField(
        source="vulnerability.epss_percentile", allow_null=True
    )


@extend_schema_serializer(many=False)  # one page, though the route is a list's
class VulnerabilityPageSerializer(serializers.Serializer):
    """The schema of the answer (the view builds it): rows, or with group=qid groups."""

    count = serializers.IntegerField(
        allow_null=True,
        help_text="null for rows: the list pages by keyset and never counts; "
        "the number of groups with group=qid.",
    )
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PolymorphicProxySerializer(
        component_name="VulnerabilityResult",
        serializers=lambda: [VulnerabilityRowSerializer, QidGroupSerializer],
        resource_type_field_name=None,
        many=True,
    )


class QidGroupSerializer(serializers.Serializer):
    qid = serializers.IntegerField(source="vulnerability.qid")
    reference = serializers.CharField(source="vulnerability.reference")
    title = serializers.CharField(source="vulnerability.title")
    severity = serializers.IntegerField(source="vulnerability.severity")
    known_exploited = serializers.BooleanField(source="vulnerability.known_exploited")
    epss = serializers.FloatField(source="vulnerability.epss", allow_null=True)
    hosts = serializers.IntegerField()
    detections = serializers.IntegerField()
    networks = serializers.SerializerMethodField()

    def get_networks(self, group) -> list[dict]:
        return [
            {"network": n.pk, "network_name": n.name, "hosts": hosts}
            for n, hosts in group.by_network
        ]


class VulnerabilityViewSet(viewsets.ViewSet):
    """Detections across networks, one per (host, QID, port), paged by keyset
    (``next`` carries the cursor); ``group=qid`` answers one row per QID with
    the affected hosts per network (from the last snapshot)."""

    read_role = Role.READER

    @extend_schema(
        parameters=[
            OpenApiParameter("network", int),
            OpenApiParameter("severity", int, many=True),
            OpenApiParameter("status", str, enum=[c for c, _ in STATUS_CHOICES]),
            OpenApiParameter("kind", str),
            OpenApiParameter("source", str),
            OpenApiParameter("qid", int),
            OpenApiParameter("cve", str, description="A CVE id: entries that name it."),
            OpenApiParameter(
                "known_exploited", bool, description="true: only CVEs in CISA's KEV catalog."
            ),
            OpenApiParameter("epss_min", float, description="EPSS score at least this (0-1)."),
            OpenApiParameter("port", int),
            OpenApiParameter("tag", int),
            OpenApiParameter("q", str),
            OpenApiParameter(
                "sort",
                str,
                enum=[c for c, _ in SORT_CHOICES],
                description="A column, '-' first for descending; ties by id the same "
                "way, but a QID's findings worst first (qid) or mildest first (-qid). "
                "fixed_at needs status=fixed.",
            ),
            OpenApiParameter("after", str, description="The cursor from a previous answer."),
            OpenApiParameter("group", str, enum=["qid"]),
        ],
        responses={200: VulnerabilityPageSerializer},
    )
    def list(self, request):
        form = VulnerabilityFilterForm(request.query_params, user=request.user)
        if not form.is_valid():
            raise ValidationError(form.errors)
        criteria = form.criteria()
        group = request.query_params.get("group", "")
        if group not in ("", "qid"):
            raise ValidationError({"group": [f"'{group}' is not a grouping; use qid."]})
        if group == "qid":
            groups = vulnerabilities.grouped_by_qid(criteria)
            return Response(
                {
                    "count": len(groups),
                    "next": None,
                    "previous": None,
                    "results": QidGroupSerializer(groups, many=True).data,
                }
            )
        page = vulnerabilities.page(
            criteria,
            sort=form.cleaned_data.get("sort") or vulnerabilities.DEFAULT_SORT,
            after=form.cleaned_data.get("after") or "",
        )
        next_url = None
        if page.next_cursor:
            query = request.query_params.copy()
            query["after"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(
            {
                "count": None,
                "next": next_url,
                "previous": None,
                "results": VulnerabilityRowSerializer(page.rows, many=True).data,
            }
        )


def register(router) -> None:
    router.register("trends", TrendViewSet, basename="trend")
    router.register("search", SearchViewSet, basename="search")
    router.register("vulnerabilities", VulnerabilityViewSet, basename="vulnerability")
