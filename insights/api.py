"""REST resources of the insights app (API.md): trends/, search/."""

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response

from accounts.models import Role
from assets.api import HostSerializer
from networks.selectors import networks_visible
from scans.api import VulnerabilitySerializer

from . import selectors
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
    network = django_filters.ModelChoiceFilter(queryset=networks_visible())
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
        return selectors.trend_rows(networks=networks_visible())


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
        parameters=[OpenApiParameter("q", str, required=True)],
        responses=SearchResultSerializer,
    )
    def list(self, request):
        results = selectors.search(q=request.query_params.get("q", ""))
        return Response(SearchResultSerializer(results).data)


def register(router) -> None:
    router.register("trends", TrendViewSet, basename="trend")
    router.register("search", SearchViewSet, basename="search")
