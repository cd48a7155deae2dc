"""Assets > Connectors: Managers only, pages and API alike (API.md)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import TemplateView, View
from django_tables2 import RequestConfig

from accounts.models import Role
from accounts.permissions import RoleRequiredMixin
from console.forms import apply_validation_error
from console.htmx import PartialTemplateMixin
from console.listing import ListPageView

from . import connector_services as services
from . import selectors
from .connector_forms import ConnectorForm, MappingFormSet, mapping_rows
from .connector_tables import CloudInstanceTable, ConnectorRunTable, ConnectorTable


class ManagerOnly(RoleRequiredMixin):
    required_role = write_role = Role.MANAGER


class ConnectorListView(ManagerOnly, ListPageView):
    table_class = ConnectorTable
    template_name = "assets/connector_list.html"

    def get_queryset(self):
        return selectors.connector_list()


class ConnectorDetailView(ManagerOnly, PartialTemplateMixin, TemplateView):
    """The connector, its latest run (polled by htmx while it runs), its runs and
    the instances it has read."""

    template_name = "assets/connector_detail.html"
    partial_name = "progress"

    def get_context_data(self, **kwargs):
        connector = get_object_or_404(selectors.connector_list(), pk=self.kwargs["pk"])
        runs = ConnectorRunTable(selectors.connector_runs(connector=connector)[:20])
        instances = CloudInstanceTable(selectors.connector_instances(connector=connector))
        RequestConfig(self.request, paginate={"per_page": 50}).configure(instances)
        return super().get_context_data(
            connector=connector,
            run=connector.last_run,
            mappings=list(connector.mappings.select_related("network")),
            run_table=runs,
            instance_table=instances,
            **kwargs,
        )


class ConnectorFormView(ManagerOnly, TemplateView):
    template_name = "assets/connector_form.html"
    connector = None

    def initial(self) -> tuple[dict, list[dict]]:
        return {}, []

    def forms(self, data=None):
        initial, rows = self.initial()
        form = ConnectorForm(data, connector=self.connector, initial=initial)
        formset = MappingFormSet(data, initial=rows, prefix="mappings")
        return form, formset

    def get(self, request, *args, **kwargs):
        form, formset = self.forms()
        return self.render_to_response(self.get_context_data(form=form, formset=formset))

    def post(self, request, *args, **kwargs):
        form, formset = self.forms(request.POST)
        if form.is_valid() and formset.is_valid():
            try:
                connector = self.save(form.service_arguments(), mapping_rows(formset))
            except ValidationError as error:
                apply_validation_error(form, error)
            else:
                messages.success(request, f"Connector {connector.name} saved.")
                return redirect(connector)
        return self.render_to_response(self.get_context_data(form=form, formset=formset))

    def get_context_data(self, **kwargs):
        return super().get_context_data(connector=self.connector, **kwargs)


class ConnectorCreateView(ConnectorFormView):
    def save(self, arguments, mappings):
        return services.connector_create(actor=self.request.user, mappings=mappings, **arguments)


class ConnectorUpdateView(ConnectorFormView):
    def dispatch(self, request, *args, **kwargs):
        self.connector = get_object_or_404(selectors.connector_list(), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def initial(self):
        connector = self.connector
        field = "regions" if connector.kind == "aws_ec2" else "subscriptions"
        initial = {
            "name": connector.name,
            "kind": connector.kind,
            "schedule": connector.schedule,
            field: "\n".join(connector.scopes),
            "endpoint_url": connector.endpoint_url,
            "authority_host": connector.authority_host,
            "resource_manager_url": connector.resource_manager_url,
        }
        rows = [
            {"vpc": m.cloud_network, "network": m.network}
            for m in connector.mappings.select_related("network")
        ]
        return initial, rows

    def save(self, arguments, mappings):
        return services.connector_update(
            actor=self.request.user, connector=self.connector, mappings=mappings, **arguments
        )


class ConnectorRunView(ManagerOnly, View):
    """Run now: queues a run and goes back to the connector's page, which polls it."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        connector = get_object_or_404(selectors.connector_list(), pk=kwargs["pk"])
        try:
            run = services.connector_run_start(actor=request.user, connector=connector)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Run {run.pk} of {connector.name} queued.")
        return redirect(connector)


class ConnectorDeleteView(ManagerOnly, TemplateView):
    template_name = "includes/confirm_delete.html"

    def dispatch(self, request, *args, **kwargs):
        self.connector = get_object_or_404(selectors.connector_list(), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            object=self.connector,
            object_type="connector",
            cancel_url=self.connector.get_absolute_url(),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        services.connector_delete(actor=request.user, connector=self.connector)
        messages.success(
            request, f"Connector {self.connector.name} deleted; the hosts it found stay."
        )
        return redirect(reverse("assets:connector_list"))
