"""REST resource ``connectors/`` (API.md): Managers only. Credentials are write
only: accepted on POST and PATCH, never in an answer."""

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Role
from core.digits import ascii_digits
from networks.models import Network

from . import connector_services as services
from . import selectors
from .models import Connector, ConnectorKind, ConnectorSchedule

CREDENTIALS = (
    "access_key_id",
    "secret_access_key",
    "role_arn",
    "tenant_id",
    "client_id",
    "client_secret",
)


class MappingSerializer(serializers.Serializer):
    vpc = serializers.CharField(
        source="cloud_network", help_text="A VPC id (vpc-…) or an Azure VNet's resource id."
    )
    network = serializers.PrimaryKeyRelatedField(
        queryset=Network.objects.all(), help_text="A custom network's id."
    )


class ConnectorSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=ConnectorKind.choices)
    # Write only (API.md): never in an answer.
    access_key_id = serializers.CharField(write_only=True, required=False, allow_blank=True)
    secret_access_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, style={"input_type": "password"}
    )
    role_arn = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text='"" clears it.'
    )
    tenant_id = serializers.CharField(write_only=True, required=False, allow_blank=True)
    client_id = serializers.CharField(write_only=True, required=False, allow_blank=True)
    client_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, style={"input_type": "password"}
    )
    regions = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="AWS: region names."
    )
    subscriptions = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Azure: subscription ids."
    )
    endpoint_url = serializers.CharField(
        required=False, allow_blank=True, help_text="AWS: another AWS-compatible endpoint."
    )
    authority_host = serializers.CharField(
        required=False, allow_blank=True, help_text="Azure: the sign-in host of a sovereign cloud."
    )
    resource_manager_url = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Azure: the Resource Manager of a sovereign cloud.",
    )
    mappings = MappingSerializer(many=True, required=False)
    schedule = serializers.ChoiceField(choices=ConnectorSchedule.choices, required=False)
    credentials = serializers.CharField(
        source="credentials_hint",
        read_only=True,
        help_text="Which credentials, never what they are.",
    )
    next_run = serializers.DateTimeField(read_only=True, allow_null=True)
    last_run = serializers.SerializerMethodField()
    last_status = serializers.SerializerMethodField()
    last_counts = serializers.SerializerMethodField()
    last_error = serializers.SerializerMethodField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        scope_field = "regions" if instance.kind == ConnectorKind.AWS_EC2 else "subscriptions"
        data[scope_field] = list(instance.scopes)
        data.pop("subscriptions" if scope_field == "regions" else "regions", None)
        if instance.kind == ConnectorKind.AWS_EC2:
            data.pop("authority_host", None)
            data.pop("resource_manager_url", None)
        else:
            data.pop("endpoint_url", None)
        return data

    def get_last_run(self, connector) -> str | None:
        run = connector.last_run
        return run.created_at.isoformat() if run else None

    def get_last_status(self, connector) -> str | None:
        return connector.last_run.status if connector.last_run else None

    def get_last_counts(self, connector) -> dict[str, int]:
        return dict(connector.last_run.counts) if connector.last_run else {}

    def get_last_error(self, connector) -> str:
        return connector.last_run.error if connector.last_run else ""


def _arguments(data: dict, kind: str | None) -> dict:
    """The service's keywords from validated data."""
    arguments = {}
    credentials = {f: data[f] for f in CREDENTIALS if f in data}
    if credentials:
        arguments["credentials"] = credentials
    scope_field = "regions" if kind == ConnectorKind.AWS_EC2 else "subscriptions"
    if scope_field in data:
        arguments["scopes"] = data[scope_field]
    for field in (
        "name",
        "kind",
        "endpoint_url",
        "authority_host",
        "resource_manager_url",
        "schedule",
    ):
        if field in data:
            arguments[field] = data[field]
    if "mappings" in data:
        arguments["mappings"] = [dict(m) for m in data["mappings"]]
    return arguments


class ConnectorViewSet(viewsets.ModelViewSet):
    """Cloud connectors (AWS EC2, Azure): Managers only, reads included."""

    serializer_class = ConnectorSerializer
    read_role = write_role = Role.MANAGER
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = r"[^/]+"
    queryset = Connector.objects.none()  # for the schema; rows come from get_queryset

    def get_queryset(self):
        return selectors.connector_list().prefetch_related("mappings").order_by("id")

    def get_object(self):
        pk = self.kwargs["pk"]
        if not ascii_digits(str(pk)) or int(pk) > 2**63 - 1:
            raise Http404
        return super().get_object()

    def perform_create(self, serializer):
        data = serializer.validated_data
        arguments = _arguments(data, data["kind"])
        arguments.setdefault("scopes", [])
        arguments.setdefault("credentials", {})
        connector = services.connector_create(actor=self.request.user, **arguments)
        serializer.instance = self.get_queryset().get(pk=connector.pk)

    def perform_update(self, serializer):
        connector = serializer.instance
        services.connector_update(
            actor=self.request.user,
            connector=connector,
            **_arguments(serializer.validated_data, connector.kind),
        )
        serializer.instance = self.get_queryset().get(pk=connector.pk)

    def perform_destroy(self, instance):
        services.connector_delete(actor=self.request.user, connector=instance)

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer(
                "ConnectorRunStarted",
                {"id": serializers.IntegerField(), "status": serializers.CharField()},
            )
        },
    )
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        """Starts a run now; answers the run's id (the connector's last_status follows it)."""
        run = services.connector_run_start(actor=request.user, connector=self.get_object())
        return Response({"id": run.pk, "status": run.status}, status=status.HTTP_202_ACCEPTED)


def register(router) -> None:
    router.register("connectors", ConnectorViewSet, basename="connector")
