from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.validators import UnicodeUsernameValidator
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError

from console.api import LOOKUP_ANY, DetailSerializer, TypedJSONMixin

from . import services
from .models import Role, User


class UserSerializer(TypedJSONMixin, serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}
    )

    class Meta:
        model = User
        fields = ["id", "username", "email", "role", "is_active", "timezone", "password"]
        # The service refuses a taken username in any case, with one message;
        # DRF's own unique check would answer exact duplicates differently.
        extra_kwargs = {"username": {"validators": [UnicodeUsernameValidator()]}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["role"] = instance.effective_role
        return data

    def validate(self, attrs):
        if self.instance is None and not attrs.get("password"):
            raise ValidationError({"password": ["A new user needs a password."]})
        if (
            self.instance is not None
            and "username" in attrs
            and attrs["username"] != self.instance.username
        ):
            raise ValidationError({"username": ["Usernames cannot be changed."]})
        return attrs


class UserViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Users and their roles. Managers only."""

    serializer_class = UserSerializer
    queryset = User.objects.order_by("username")
    read_role = write_role = Role.MANAGER
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = LOOKUP_ANY

    def perform_create(self, serializer):
        serializer.instance = services.user_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("username", None)
        password = data.pop("password", None)
        serializer.instance = services.user_update(
            actor=self.request.user, user=serializer.instance, password=password, **data
        )


class TokenSerializer(TypedJSONMixin, AuthTokenSerializer):
    def validate(self, attrs):
        # Django's own request, not DRF's wrapper: django-axes then counts these
        # attempts like the login page's, and its middleware answers a lockout.
        request = self.context["request"]
        user = authenticate(
            request=getattr(request, "_request", request),
            username=attrs["username"],
            password=attrs["password"],
        )
        if user is None:
            raise ValidationError(
                {"non_field_errors": ["Unable to log in with provided credentials."]},
                code="authorization",
            )
        # A sign-in like the login page's: it clears the failure count (axes) and
        # sets last_login, though no session starts.
        user_logged_in.send(
            sender=type(user), request=getattr(request, "_request", request), user=user
        )
        attrs["user"] = user
        return attrs


@extend_schema_view(
    post=extend_schema(
        auth=[],
        responses={
            200: TokenSerializer,
            429: OpenApiResponse(
                DetailSerializer,
                description="Too many failed sign-ins for this username or address: "
                "locked for a while (Retry-After says how long).",
            ),
        },
    )
)
class TokenView(ObtainAuthToken):
    """POST username and password, get the user's API token. Throttled like the
    login page: after too many failures, 429 with the reason and the wait."""

    serializer_class = TokenSerializer


def register(router) -> None:
    """``users/`` is registered by the networks app, whose subclass of UserViewSet
    adds each user's network grant (a floor above: grants name networks)."""
