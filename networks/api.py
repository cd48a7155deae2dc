from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets

from accounts.api import UserSerializer, UserViewSet
from accounts.models import Role
from console.api import LOOKUP_ANY, TypedJSONMixin
from console.filters import MAX_ID

from . import selectors, services
from .models import ApplianceStatus, Network, NetworkKind, ScannerAppliance


def visible_networks_for(request):
    """django-filter's ``queryset`` callable: a network filter offers only the
    caller's networks, so another network's id is as unknown as one that never existed.
    A choice needs the id and the name, not the network's counters and address space."""
    user = getattr(request, "user", None)
    if user is None:  # no request, no caller: nothing to offer
        return Network.objects.none()
    return selectors.networks_visible(user=user).only("id", "name")


class CountedByNetworks:
    """A list view of rows that belong to networks, whose whole list (or one
    network's) is as long as a counter kept on Network says (``network_counter``):
    console.api.Pagination takes ``known_count()`` instead of a COUNT over
    millions of rows. A filtered list counts for real (None)."""

    network_counter: str
    # Query parameters that leave the list whole (or one network's rows).
    COUNTED_PARAMETERS = frozenset({"page", "page_size", "network", "format"})

    def known_count(self) -> int | None:
        params = self.request.query_params
        if set(params) - self.COUNTED_PARAMETERS:
            return None
        networks = selectors.networks_visible(user=self.request.user)
        if params.get("network"):
            networks = networks.filter(pk=params["network"])
        return sum(networks.values_list(self.network_counter, flat=True))


class ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A related object chosen by id among those in the caller's networks: one
    outside them is refused like an id that names nothing. ``scope`` is the path
    from the model to its network ("" for a Network itself)."""

    def __init__(self, *, scope: str = "network", **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None:  # the schema: no caller
            return queryset.none()
        # The grant only: with network support off, the service says "Global
        # Default only" more clearly than "no such object".
        ids = selectors.granted_network_ids(user=user)
        if ids is None:
            return queryset
        return queryset.filter(**{f"{self.scope or 'pk'}__in": sorted(ids)})


class NetworkSerializer(TypedJSONMixin, serializers.ModelSerializer):
    address_space = serializers.CharField(
        required=False, allow_blank=True, help_text="Addresses, a-b ranges and CIDR blocks."
    )
    appliances = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=ScannerAppliance.objects.all()
    )
    kind = serializers.ChoiceField(choices=NetworkKind.choices, read_only=True)
    host_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Network
        fields = ["id", "name", "description", "kind", "address_space", "appliances", "host_count"]


class NetworkViewSet(viewsets.ModelViewSet):
    """Networks: three built-in, the rest custom. Managers write; everyone reads."""

    serializer_class = NetworkSerializer
    read_role, write_role = Role.READER, Role.MANAGER
    # Any id but "overlaps", which is a resource of its own.
    lookup_value_regex = rf"(?!overlaps/){LOOKUP_ANY}"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.network_list(user=self.request.user).order_by("id")

    def perform_create(self, serializer):
        serializer.instance = services.network_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.network_update(
            actor=self.request.user, network=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.network_delete(actor=self.request.user, network=instance)


class ApplianceSerializer(TypedJSONMixin, serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=ApplianceStatus.choices, read_only=True)

    class Meta:
        model = ScannerAppliance
        fields = [
            "id",
            "name",
            "network",
            "description",
            "status",
            "last_seen",
            "version",
            "nmap_version",
        ]
        read_only_fields = ["last_seen", "version", "nmap_version"]


class ApplianceFilterSet(filters.FilterSet):
    network = filters.ModelChoiceFilter(queryset=visible_networks_for)

    class Meta:
        model = ScannerAppliance
        fields = ["network"]


class ApplianceViewSet(viewsets.ModelViewSet):
    """Scanner appliances; a PATCH of ``network`` moves one to another network."""

    serializer_class = ApplianceSerializer
    filterset_class = ApplianceFilterSet
    read_role, write_role = Role.READER, Role.MANAGER
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = LOOKUP_ANY

    def get_queryset(self):
        return selectors.appliances_visible(user=self.request.user).order_by("id")

    def perform_create(self, serializer):
        serializer.instance = services.appliance_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.appliance_update(
            actor=self.request.user, appliance=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.appliance_delete(actor=self.request.user, appliance=instance)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
            {"type": "string", "enum": ["all"]},
        ]
    }
)
class GrantField(serializers.Field):
    """A user's networks: their ids, or "all"."""

    default_error_messages = {
        "invalid": 'Give a list of network ids, or "all".',
        "unknown": "No network with id {ids}.",
    }

    def to_internal_value(self, data):
        if data == "all":
            return None
        if not isinstance(data, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_ID for v in data
        ):
            self.fail("invalid")
        found = {n.pk: n for n in Network.objects.filter(pk__in=set(data))}
        missing = sorted(set(data) - set(found))
        if missing:
            self.fail("unknown", ids=", ".join(str(i) for i in missing))
        return list(found.values())

    def to_representation(self, value):
        return value


class UserAccessSerializer(UserSerializer):
    networks = GrantField(
        required=False,
        help_text='The networks the user may see: their ids, or "all". Managers see every '
        "network whatever this says.",
    )

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "networks"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        access = getattr(instance, "network_access", None)
        if instance.is_manager or access is None or access.all_networks:
            data["networks"] = "all"
        else:
            data["networks"] = sorted(n.pk for n in access.networks.all())
        return data


class UserAccessViewSet(UserViewSet):
    """Users, their roles and the networks each may see. Managers only.

    The accounts app keeps users; the grant is this floor's (it names
    networks), so ``users/`` is registered here."""

    serializer_class = UserAccessSerializer

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related("network_access")
            .prefetch_related("network_access__networks")
        )

    def perform_create(self, serializer):
        serializer.instance = services.user_create_with_access(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("username", None)
        serializer.instance = services.user_update_with_access(
            actor=self.request.user, user=serializer.instance, **data
        )
        # The grant just written, not the one prefetched before it.
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)


def register(router) -> None:
    router.register("users", UserAccessViewSet, basename="user")
    router.register("networks", NetworkViewSet, basename="network")
    router.register("appliances", ApplianceViewSet, basename="appliance")
