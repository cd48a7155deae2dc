import shlex
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import DetailView, FormView, TemplateView

from accounts.models import Role, User
from accounts.permissions import RoleRequiredMixin
from console.forms import ServiceFormMixin
from console.htmx import PartialTemplateMixin
from console.listing import ListPageView

from . import selectors, services
from .forms import NetworkAccessForm, NetworkForm, ScannerApplianceForm
from .selectors import networks_visible
from .tables import NetworkTable, ScannerApplianceTable


class NetworksEnabledMixin:
    """The Networks tab exists only while network support is on."""

    def dispatch(self, request, *args, **kwargs):
        from django.conf import settings

        if not settings.ENCLAVE_NETWORKS_ENABLED:
            raise Http404("Network support is switched off.")
        return super().dispatch(request, *args, **kwargs)


class NetworkListView(NetworksEnabledMixin, RoleRequiredMixin, ListPageView):
    table_class = NetworkTable
    template_name = "networks/network_list.html"

    def get_queryset(self):
        return selectors.network_list(user=self.request.user)


class NetworkDetailView(NetworksEnabledMixin, RoleRequiredMixin, DetailView):
    template_name = "networks/network_detail.html"

    def get_queryset(self):
        return selectors.network_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["appliance_table"] = ScannerApplianceTable(
            selectors.appliances_visible(user=self.request.user).filter(network=self.object),
            exclude=("network",),
        )
        return context


class NetworkFormView(NetworksEnabledMixin, RoleRequiredMixin, ServiceFormMixin, FormView):
    required_role = write_role = Role.MANAGER
    form_class = NetworkForm
    template_name = "networks/network_form.html"
    success_message = "Network {obj.name} saved."
    network = None

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "network": self.network}

    def get_context_data(self, **kwargs):
        return super().get_context_data(network=self.network, **kwargs)


class NetworkCreateView(NetworkFormView):
    def save(self, data):
        return services.network_create(actor=self.request.user, **data)


class NetworkUpdateView(NetworkFormView):
    def dispatch(self, request, *args, **kwargs):
        self.network = get_object_or_404(networks_visible(user=request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        return {
            "name": self.network.name,
            "description": self.network.description,
            "address_space": self.network.address_space,
            "appliances": list(self.network.appliances.all()),
        }

    def save(self, data):
        if self.network.is_built_in:
            data.pop("name", None)
        return services.network_update(actor=self.request.user, network=self.network, **data)


class NetworkDeleteView(NetworksEnabledMixin, RoleRequiredMixin, TemplateView):
    required_role = write_role = Role.MANAGER
    template_name = "includes/confirm_delete.html"

    def dispatch(self, request, *args, **kwargs):
        self.network = get_object_or_404(networks_visible(user=request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            object=self.network,
            object_type="network",
            cancel_url=self.network.get_absolute_url(),
            refusal=services.network_delete_refusal(network=self.network),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        try:
            services.network_delete(actor=request.user, network=self.network)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(self.network)
        messages.success(request, f"Network {self.network.name} deleted.")
        return redirect("networks:network_list")


class ApplianceListView(RoleRequiredMixin, ListPageView):
    table_class = ScannerApplianceTable
    template_name = "networks/appliance_list.html"

    def get_queryset(self):
        return selectors.appliances_visible(user=self.request.user)


def broker_for_appliances() -> dict:
    """How an appliance reaches this platform's broker, for the page that says
    how to start one: the URL with any password masked, the extra environment
    it needs, and where its one outbound connection goes."""
    url = settings.CELERY_BROKER_URL
    parts = urlsplit(url)
    shown = url
    if parts.password:
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 literal keeps its brackets
            host = f"[{host}]"
        netloc = f"{user}:<password>@{host}" + (f":{parts.port}" if parts.port else "")
        shown = urlunsplit(parts._replace(netloc=netloc))
    env = [("CELERY_BROKER_URL", shown)]
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix")
    if prefix:
        env.append(("ENCLAVE_BROKER_PREFIX", prefix))
    local = parts.scheme == "filesystem"
    if local:
        env.append(("ENCLAVE_BROKER_DIR", str(settings.BROKER_DIR)))
    target = ""
    if parts.hostname:
        default_ports = {"redis": 6379, "rediss": 6380, "amqp": 5672, "amqps": 5671}
        port = parts.port or default_ports.get(parts.scheme)
        target = f"{parts.hostname}:{port}" if port else parts.hostname
    return {
        "env": " ".join(f"{name}={shlex.quote(value)}" for name, value in env),
        "local": local,
        "target": target,
        "masked": shown != url,
        "concurrency": settings.ENCLAVE_APPLIANCE_SLICES,
    }


class ApplianceDetailView(RoleRequiredMixin, PartialTemplateMixin, DetailView):
    """A scanner appliance: status, versions, last heartbeat, its slices (from
    the scans app, loaded with htmx) and how to run it inside its network."""

    template_name = "networks/appliance_detail.html"
    partial_name = "status"
    context_object_name = "appliance"

    def get_queryset(self):
        return selectors.appliances_visible(user=self.request.user)

    def get_context_data(self, **kwargs):
        return super().get_context_data(broker=broker_for_appliances(), **kwargs)


class ApplianceFormView(RoleRequiredMixin, ServiceFormMixin, FormView):
    required_role = write_role = Role.MANAGER
    form_class = ScannerApplianceForm
    template_name = "networks/appliance_form.html"
    success_message = "Scanner appliance {obj.name} saved."
    appliance = None

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        form.fields["network"].queryset = selectors.networks_visible(user=self.request.user)
        return form

    def get_initial(self):
        network = self.request.GET.get("network")
        return {"network": network} if network else {}

    def get_context_data(self, **kwargs):
        return super().get_context_data(appliance=self.appliance, **kwargs)

    def success_target(self, obj):
        return obj.network


class ApplianceCreateView(ApplianceFormView):
    def save(self, data):
        return services.appliance_create(actor=self.request.user, **data)


class ApplianceUpdateView(ApplianceFormView):
    def dispatch(self, request, *args, **kwargs):
        self.appliance = get_object_or_404(
            selectors.appliances_visible(user=request.user), pk=kwargs["pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        return {
            "name": self.appliance.name,
            "network": self.appliance.network,
            "description": self.appliance.description,
        }

    def save(self, data):
        return services.appliance_update(actor=self.request.user, appliance=self.appliance, **data)


class ApplianceDeleteView(RoleRequiredMixin, TemplateView):
    required_role = write_role = Role.MANAGER
    template_name = "includes/confirm_delete.html"

    def dispatch(self, request, *args, **kwargs):
        self.appliance = get_object_or_404(
            selectors.appliances_visible(user=request.user), pk=kwargs["pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            object=self.appliance,
            object_type="scanner appliance",
            cancel_url=self.appliance.network.get_absolute_url(),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        network = self.appliance.network
        services.appliance_delete(actor=request.user, appliance=self.appliance)
        messages.success(request, f"Scanner appliance {self.appliance.name} deleted.")
        return redirect(network)


# --- Network access (a user's grant; shown on the user's page) ------------------------------


class UserAccessView(RoleRequiredMixin, PartialTemplateMixin, FormView):
    """The networks a user may see: a section of the user's page (loaded with
    htmx, with a link of its own), edited here. Managers only."""

    required_role = write_role = Role.MANAGER
    form_class = NetworkAccessForm
    template_name = "networks/user_access.html"
    partial_name = "access"

    def dispatch(self, request, *args, **kwargs):
        self.user = get_object_or_404(User, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        access = selectors.network_access_of(user=self.user)
        if access is None or access.all_networks:
            return {"scope": "all", "networks": []}
        return {"scope": "chosen", "networks": list(access.networks.all())}

    def get_context_data(self, **kwargs):
        access = selectors.network_access_of(user=self.user)
        granted = None if access is None or access.all_networks else list(access.networks.all())
        return super().get_context_data(
            subject=self.user,
            granted=granted,
            sees_all=self.user.is_manager or granted is None,
            **kwargs,
        )

    def form_valid(self, form):
        services.network_access_set(
            actor=self.request.user, user=self.user, networks=form.networks_chosen()
        )
        messages.success(self.request, f"Network access of {self.user.username} saved.")
        return redirect("accounts:user_update", pk=self.user.pk)
