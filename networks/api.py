from django_filters import rest_framework as filters
from rest_framework import serializers, viewsets

from accounts.models import Role
from console.api import LOOKUP_ANY, TypedJSONMixin

from . import selectors, services
from .models import ApplianceStatus, Network, NetworkKind, ScannerAppliance


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
        return selectors.network_list().order_by("id")

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
        return ScannerAppliance.objects.select_related("network").order_by("id")

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


def register(router) -> None:
    router.register("networks", NetworkViewSet, basename="network")
    router.register("appliances", ApplianceViewSet, basename="appliance")
