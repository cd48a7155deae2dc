"""REST resources of the assets app (API.md): hosts/, asset-groups/, tags/,
networks/overlaps/."""

from django.conf import settings
from django.db.models import Prefetch
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError

from accounts.models import Role
from console.api import LOOKUP_ANY, TypedJSONMixin
from console.filters import MAX_ID
from networks.api import CountedByNetworks, ScopedPrimaryKeyField
from networks.models import Network

from . import connector_api, selectors, services
from .filters import HostAPIFilterSet
from .models import AssetGroup, Host, NetworkOverlap, Tag

ASSET_WRITE_ROLE = Role.SCANNER


class HostSerializer(serializers.ModelSerializer):
    network_name = serializers.CharField(source="network.name", read_only=True)
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Host
        fields = [
            "id",
            "network",
            "network_name",
            "ip",
            "dns",
            "netbios",
            "os",
            "first_found",
            "last_scanned",
            "tags",
        ]

    def get_tags(self, host) -> list[str]:
        return [tag.name for tag in host.tags.all()]


class HostViewSet(CountedByNetworks, viewsets.ReadOnlyModelViewSet):
    """Hosts, one per (network, IP). Filters: network, ip, range, tag, os, dns, q.

    Registered by the scans app, whose subclass adds each host's detections to
    the detail (API.md); this floor knows hosts, not findings.
    """

    filterset_class = HostAPIFilterSet
    serializer_class = HostSerializer
    read_role = Role.READER
    lookup_value_regex = LOOKUP_ANY
    network_counter = "host_count"

    def get_queryset(self):
        return (
            selectors.hosts_visible(user=self.request.user)
            .select_related("network")
            # A row names its network: not its counters and address space, 50 times a page.
            .only(*(field.name for field in Host._meta.concrete_fields), "network__name")
            .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
            .order_by("network_id", "ip_key")
        )


class AssetGroupSerializer(TypedJSONMixin, serializers.ModelSerializer):
    network = ScopedPrimaryKeyField(
        scope="",
        queryset=Network.objects.all(),
        required=False,
        help_text="Set on create, never changed: a PATCH that changes it is refused (400). "
        "Required on create while network support is on; otherwise the Global Default "
        "Network.",
    )
    ips = serializers.CharField(
        required=False, allow_blank=True, help_text="Addresses, a-b ranges and CIDR blocks."
    )
    domains = serializers.CharField(
        required=False, allow_blank=True, help_text="Domain names, comma or newline separated."
    )
    description = serializers.CharField(required=False, allow_blank=True)

    class Meta:
        model = AssetGroup
        fields = ["id", "title", "network", "ips", "domains", "description"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["domains"] = ", ".join(instance.domains.split())
        return data


class AssetGroupViewSet(viewsets.ModelViewSet):
    """Asset groups: IPs, ranges and domains in one network, fixed at creation."""

    serializer_class = AssetGroupSerializer
    read_role, write_role = Role.READER, ASSET_WRITE_ROLE
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = LOOKUP_ANY

    def get_queryset(self):
        return selectors.asset_group_list(user=self.request.user).order_by("id")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        if "network" not in data:
            if settings.ENCLAVE_NETWORKS_ENABLED:
                raise ValidationError({"network": ["This field is required."]})
            data["network"] = Network.objects.global_default()
        serializer.instance = services.asset_group_create(actor=self.request.user, **data)

    def perform_update(self, serializer):
        serializer.instance = services.asset_group_update(
            actor=self.request.user, group=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.asset_group_delete(actor=self.request.user, group=instance)


class TagSerializer(TypedJSONMixin, serializers.ModelSerializer):
    hosts = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        help_text="Ids of the hosts carrying the tag (any networks); a PATCH replaces the set.",
    )

    class Meta:
        model = Tag
        fields = ["id", "name", "hosts"]

    def to_representation(self, instance):
        return {
            "id": instance.pk,
            "name": instance.name,
            "hosts": [host.pk for host in instance.hosts.all()],
        }


class TagViewSet(viewsets.ModelViewSet):
    serializer_class = TagSerializer
    read_role, write_role = Role.READER, ASSET_WRITE_ROLE
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = LOOKUP_ANY

    def get_queryset(self):
        # Tags are every user's; the hosts listed are those in the caller's networks.
        return Tag.objects.prefetch_related(
            Prefetch("hosts", queryset=selectors.tag_hosts_visible(user=self.request.user))
        ).order_by("id")

    def perform_create(self, serializer):
        serializer.instance = services.tag_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        tag = services.tag_update(
            actor=self.request.user, tag=serializer.instance, **serializer.validated_data
        )
        serializer.instance = self.get_queryset().get(pk=tag.pk)

    def perform_destroy(self, instance):
        services.tag_delete(actor=self.request.user, tag=instance)


class OverlapSerializer(serializers.Serializer):
    network_a = serializers.IntegerField(source="network_a.pk")
    network_a_name = serializers.CharField(source="network_a.name")
    network_b = serializers.IntegerField(source="network_b.pk")
    network_b_name = serializers.CharField(source="network_b.name")
    ranges = serializers.SerializerMethodField()
    hosts_in_both = serializers.IntegerField(
        allow_null=True, help_text="null until counted since the overlap last changed."
    )

    def get_ranges(self, overlap) -> list[str]:
        return overlap.ranges_text.split(", ")


class OverlapViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Pairs of networks whose address spaces overlap, where, and the hosts in both.
    Paginated like every list."""

    read_role = Role.READER
    serializer_class = OverlapSerializer
    # The model, for the schema (which must not compute overlaps); the rows come
    # from get_queryset(): stored, or computed live while they are being counted.
    queryset = NetworkOverlap.objects.none()

    def get_queryset(self):
        return selectors.network_overlaps(user=self.request.user)


def register(router) -> None:
    """Registers this app's REST resources (API.md) on the /api/v1/ router
    (``hosts/``: see HostViewSet)."""
    router.register("asset-groups", AssetGroupViewSet, basename="asset-group")
    router.register("tags", TagViewSet, basename="tag")
    router.register("networks/overlaps", OverlapViewSet, basename="network-overlap")
    connector_api.register(router)
