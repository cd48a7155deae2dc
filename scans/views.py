from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import DetailView, FormView, TemplateView
from django_tables2 import RequestConfig

from accounts.models import Role
from accounts.permissions import RoleRequiredMixin
from assets.selectors import hosts_visible
from console.forms import ServiceFormMixin
from console.htmx import PartialTemplateMixin, htmx_partial
from console.listing import ListPageView
from core.digits import ascii_digits
from networks.models import Network, ScannerAppliance
from networks.selectors import appliances_visible, networks_visible

from . import selectors, services
from .filters import ImportFilterSet, ScanFilterSet, VulnerabilityFilterSet
from .forms import FeedForm, ImportForm, OptionProfileForm, ScanForm, ScheduleForm
from .models import OptionProfile, SliceStatus, Vulnerability
from .services.feeds import feed_import_create
from .services.imports import import_create
from .services.launch import launch_warning
from .services.profiles import option_profile_default
from .tables import (
    ApplianceSliceTable,
    FeedImportTable,
    ImportTable,
    OptionProfileTable,
    ScanHostTable,
    ScanSliceTable,
    ScanTable,
    ScheduleTable,
    VulnerabilityTable,
)

# --- Scans -----------------------------------------------------------------------------


class LiveRowsMixin:
    """A list whose rows run in the background (scans, imports, feed files): its
    page keeps polling (``live``) while a row on it is still queued or running."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = context["table"].page
        rows = page.object_list.data if page else []
        context["live"] = any(not row.is_done for row in rows)
        return context


class ScanListView(RoleRequiredMixin, LiveRowsMixin, ListPageView):
    table_class = ScanTable
    filterset_class = ScanFilterSet
    template_name = "scans/scan_list.html"

    def get_queryset(self):
        return selectors.scan_rows(user=self.request.user)


class NetworkChoiceMixin:
    """Scan and schedule forms: the scanner and asset group choices follow the
    network chosen (htmx fetches the ``network_fields`` partial again on change).
    With network support off, the network is always Global Default."""

    def default_network(self) -> Network | None:
        return None

    def chosen_network(self) -> Network | None:
        if not settings.ENCLAVE_NETWORKS_ENABLED:
            return Network.objects.global_default()
        value = self.request.POST.get("network") or self.request.GET.get("network")
        if value and ascii_digits(str(value)) and len(value) < 19:
            return networks_visible(user=self.request.user).filter(pk=value).first()
        return self.default_network()

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        network = self.chosen_network()
        # The appliance picked (htmx asks again on its change, for the warning).
        appliance = self.chosen_appliance(network)
        if appliance is not None and not self.request.POST:
            kwargs["initial"] = {**kwargs.get("initial", {}), "appliance": appliance}
        return {**kwargs, "network": network, "user": self.request.user}

    def chosen_appliance(self, network: Network | None) -> ScannerAppliance | None:
        value = self.request.POST.get("appliance") or self.request.GET.get("appliance")
        if network is None or not (value and ascii_digits(str(value))):
            return None
        return network.appliances.filter(pk=value).first()

    def get_context_data(self, **kwargs):
        # Said before launch: where no appliance can take the scan, it waits.
        network = self.chosen_network()
        warning = ""
        if network is not None:
            warning = launch_warning(network=network, appliance=self.chosen_appliance(network))
        return super().get_context_data(launch_warning=warning, **kwargs)

    def get_template_names(self):
        request = self.request
        wants_fields = request.method == "GET" and htmx_partial(request)
        if wants_fields and request.htmx.target == "network-fields":
            return ["scans/includes/scan_fields.html#network_fields"]
        return [self.template_name]


class ScanCreateView(RoleRequiredMixin, NetworkChoiceMixin, ServiceFormMixin, FormView):
    required_role = write_role = Role.SCANNER
    form_class = ScanForm
    template_name = "scans/scan_form.html"
    success_message = "Scan “{obj.title}” launched."

    def get_initial(self):
        network = self.chosen_network()
        return {
            "network": network,
            "option_profile": option_profile_default(),
            "targets": self.request.GET.get("targets", ""),
        }

    def save(self, data):
        return services.scan_launch(actor=self.request.user, **data)


class ScanDetailView(RoleRequiredMixin, PartialTemplateMixin, DetailView):
    template_name = "scans/scan_detail.html"
    partial_name = "progress"
    context_object_name = "scan"

    def get_queryset(self):
        return selectors.scan_list(user=self.request.user)

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        if self.object.is_import:  # an import has a page of its own
            return redirect(self.object)
        return self.render_to_response(self.get_context_data(object=self.object))

    def get_context_data(self, **kwargs):
        """The page, and (htmx, every 2 s while the scan runs) its progress part:
        status, numbers, slices, and out of band the buttons, which change when
        the scan ends."""
        context = super().get_context_data(**kwargs)
        table = ScanSliceTable(selectors.scan_slices(scan=self.object))
        RequestConfig(self.request, paginate={"per_page": 20}).configure(table)
        context["slice_table"] = table
        counts = selectors.scan_slice_counts(scan=self.object)
        context["slice_counts"] = [
            (status, label, counts.get(status, 0)) for status, label in SliceStatus.choices
        ]
        context["slices_total"] = sum(counts.values())
        context["oob_actions"] = htmx_partial(self.request)
        context["asset_groups"] = list(self.object.asset_groups.all())
        return context


class ScanCancelView(RoleRequiredMixin, TemplateView):
    """Cancel asks first: GET is the question, POST the answer."""

    required_role = write_role = Role.SCANNER
    template_name = "scans/scan_cancel.html"

    def dispatch(self, request, *args, **kwargs):
        self.scan = get_object_or_404(selectors.scan_list(user=self.request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(scan=self.scan, **kwargs)

    def post(self, request, *args, **kwargs):
        scan = self.scan
        try:
            services.scan_cancel(actor=request.user, scan=scan)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Scan “{scan.title}” canceled.")
        return redirect(scan)


class ScanResultsView(RoleRequiredMixin, DetailView):
    template_name = "scans/scan_results.html"
    context_object_name = "scan"

    def get_queryset(self):
        return selectors.scan_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        """Findings by QID grouped by severity (a page of 100 QIDs), then the hosts
        found (a page of 100), each with its findings by severity."""
        context = super().get_context_data(**kwargs)
        if self.object.is_import:
            self.request.enclave_tab = "scans:import_list"
        table = ScanHostTable(selectors.scan_hosts(scan=self.object), prefix="hosts-")
        RequestConfig(self.request, paginate={"per_page": 100}).configure(table)
        context["host_table"] = table
        by_severity = selectors.scan_findings_by_severity(scan=self.object)
        context["by_severity"] = [(s, by_severity.get(str(s), 0)) for s in range(5, 0, -1)]
        context["findings_total"] = sum(by_severity.values())
        findings = Paginator(selectors.scan_findings(scan=self.object), 100)
        context["findings"] = findings.get_page(self.request.GET.get("findings_page"))
        return context


# --- Scanner appliances (their page is the networks app's) ---------------------------------


class ApplianceSlicesView(RoleRequiredMixin, PartialTemplateMixin, TemplateView):
    """The slices an appliance holds now and the ones it ran (paginated).

    The appliance's page (networks) loads the ``slices`` partial with htmx;
    without JavaScript its link opens this as a page of its own.
    """

    template_name = "scans/appliance_slices.html"
    partial_name = "slices"

    def get_context_data(self, **kwargs):
        appliance = get_object_or_404(
            appliances_visible(user=self.request.user),
            pk=self.kwargs["pk"],
        )
        held = ApplianceSliceTable(selectors.appliance_slices_held(appliance=appliance))
        history = ApplianceSliceTable(
            selectors.appliance_slice_history(appliance=appliance), prefix="history-"
        )
        RequestConfig(self.request, paginate={"per_page": 25}).configure(history)
        return super().get_context_data(
            appliance=appliance, held_table=held, history_table=history, **kwargs
        )


# --- Host findings ----------------------------------------------------------------------


class HostDetectionsView(RoleRequiredMixin, PartialTemplateMixin, TemplateView):
    """A host's current findings, grouped by severity, with their evidence.

    The host page (assets) loads the ``findings`` partial with htmx; without
    JavaScript its link opens this as a page of its own.
    """

    template_name = "scans/host_detections.html"
    partial_name = "findings"

    def get_context_data(self, **kwargs):
        host = get_object_or_404(
            hosts_visible(user=self.request.user).select_related("network"), pk=self.kwargs["pk"]
        )
        return super().get_context_data(
            host=host,
            findings=selectors.host_findings_by_severity(host=host),
            services=list(selectors.host_services(host=host)),
            **kwargs,
        )


# --- Schedules -----------------------------------------------------------------------------


class ScheduleListView(RoleRequiredMixin, ListPageView):
    table_class = ScheduleTable
    template_name = "scans/schedule_list.html"

    def get_queryset(self):
        return selectors.schedule_list(user=self.request.user)


class ScheduleDetailView(RoleRequiredMixin, DetailView):
    template_name = "scans/schedule_detail.html"
    context_object_name = "schedule"

    def get_queryset(self):
        return selectors.schedule_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        table = ScanTable(selectors.scan_rows(user=self.request.user).filter(schedule=self.object))
        table.paginate(page=self.request.GET.get("page", 1), per_page=50)
        context["scan_table"] = table
        context["asset_groups"] = list(self.object.asset_groups.all())
        return context


class ScheduleFormView(RoleRequiredMixin, NetworkChoiceMixin, ServiceFormMixin, FormView):
    """New and Edit: the scanner and asset group choices follow the network (htmx)."""

    required_role = write_role = Role.SCANNER
    form_class = ScheduleForm
    template_name = "scans/schedule_form.html"
    success_message = "Schedule “{obj.title}” saved."
    schedule = None

    def default_network(self):
        return self.schedule.network if self.schedule else None

    def get_context_data(self, **kwargs):
        return super().get_context_data(schedule=self.schedule, **kwargs)


class ScheduleCreateView(ScheduleFormView):
    def get_initial(self):
        return {
            "network": self.chosen_network(),
            "option_profile": option_profile_default(),
            "active": True,
            # The next full hour: a start in the past would make a one-time schedule refused.
            "start": timezone.localtime().replace(minute=0, second=0, microsecond=0)
            + timedelta(hours=1),
        }

    def save(self, data):
        return services.schedule_create(actor=self.request.user, **data)


class ScheduleUpdateView(ScheduleFormView):
    def dispatch(self, request, *args, **kwargs):
        self.schedule = get_object_or_404(
            selectors.schedule_list(user=self.request.user), pk=kwargs["pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        s = self.schedule
        network = self.chosen_network()
        same_network = network is not None and network.pk == s.network_id
        return {
            "title": s.title,
            "type": s.type,
            "network": network,
            # Another network chosen: its scanners and groups start unticked.
            "appliance": s.appliance if same_network else None,
            "asset_groups": list(s.asset_groups.all()) if same_network else [],
            "targets": s.targets,
            "option_profile": s.option_profile,
            "recurrence": s.recurrence,
            "start": s.start,
            "active": s.active,
        }

    def save(self, data):
        return services.schedule_update(actor=self.request.user, schedule=self.schedule, **data)


class ScheduleDeleteView(RoleRequiredMixin, TemplateView):
    required_role = write_role = Role.SCANNER
    template_name = "includes/confirm_delete.html"

    def dispatch(self, request, *args, **kwargs):
        self.object = get_object_or_404(selectors.schedule_list(user=request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            object=self.object,
            object_type="schedule",
            cancel_url=self.object.get_absolute_url(),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        services.schedule_delete(actor=request.user, schedule=self.object)
        messages.success(request, f"Schedule “{self.object.title}” deleted.")
        return redirect(reverse("scans:schedule_list"))


# --- Option profiles ----------------------------------------------------------------------


class OptionProfileListView(RoleRequiredMixin, ListPageView):
    table_class = OptionProfileTable
    template_name = "scans/option_profile_list.html"
    edit_role = Role.SCANNER

    def get_queryset(self):
        return OptionProfile.objects.all()


class OptionProfileFormView(RoleRequiredMixin, ServiceFormMixin, FormView):
    required_role = write_role = Role.SCANNER
    form_class = OptionProfileForm
    template_name = "scans/option_profile_form.html"
    success_message = "Option profile {obj.name} saved."
    success_url_name = "scans:option_profile_list"
    profile = None

    def get_context_data(self, **kwargs):
        return super().get_context_data(profile=self.profile, **kwargs)


class OptionProfileCreateView(OptionProfileFormView):
    def get_initial(self):
        return {"tcp_port_set": "standard", "service_detection": True}

    def save(self, data):
        return services.option_profile_create(actor=self.request.user, **data)


class OptionProfileUpdateView(OptionProfileFormView):
    def dispatch(self, request, *args, **kwargs):
        self.profile = get_object_or_404(OptionProfile, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        p = self.profile
        return {
            "name": p.name,
            "tcp_port_set": p.tcp_port_set,
            "tcp_ports": p.tcp_ports,
            "udp_ports": p.udp_ports,
            "service_detection": p.service_detection,
            "checks": p.checks,
            "max_parallel_hosts": p.max_parallel_hosts,
            "host_timeout": p.host_timeout,
            "is_default": p.is_default,
        }

    def save(self, data):
        return services.option_profile_update(actor=self.request.user, profile=self.profile, **data)


# --- KnowledgeBase --------------------------------------------------------------------------


class KnowledgeBaseListView(RoleRequiredMixin, ListPageView):
    table_class = VulnerabilityTable
    filterset_class = VulnerabilityFilterSet
    template_name = "scans/kb_list.html"

    def get_queryset(self):
        return Vulnerability.objects.all()


class KnowledgeBaseDetailView(RoleRequiredMixin, DetailView):
    template_name = "scans/kb_detail.html"
    context_object_name = "vulnerability"

    def get_object(self, queryset=None):
        try:
            return Vulnerability.objects.get(qid=self.kwargs["qid"])
        except Vulnerability.DoesNotExist:
            raise Http404(f"No QID {self.kwargs['qid']} in the KnowledgeBase.") from None


# --- Imports ---------------------------------------------------------------------------------


class ImportListView(RoleRequiredMixin, LiveRowsMixin, ListPageView):
    table_class = ImportTable
    filterset_class = ImportFilterSet
    template_name = "scans/import_list.html"

    def get_queryset(self):
        return selectors.import_list(user=self.request.user)


class ImportCreateView(RoleRequiredMixin, ServiceFormMixin, FormView):
    required_role = write_role = Role.SCANNER
    form_class = ImportForm
    template_name = "scans/import_form.html"
    success_message = "“{obj.import_file.filename}” uploaded; importing."

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def save(self, data):
        return import_create(actor=self.request.user, **data)


class ImportDetailView(RoleRequiredMixin, PartialTemplateMixin, DetailView):
    """An import's summary: progress while it runs (htmx), then hosts, findings by
    severity, the hosts skipped and why, and a link to the findings."""

    template_name = "scans/import_detail.html"
    partial_name = "summary"
    context_object_name = "scan"

    def get_queryset(self):
        return selectors.import_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        by_severity = selectors.scan_findings_by_severity(scan=self.object)
        context["by_severity"] = [(s, by_severity.get(str(s), 0)) for s in range(5, 0, -1)]
        context["record"] = self.object.import_file
        return context


# --- Feeds -----------------------------------------------------------------------------------


class FeedListView(RoleRequiredMixin, LiveRowsMixin, ListPageView):
    """Feed files imported (Managers): what each was and changed; polls while one runs."""

    required_role = Role.MANAGER
    table_class = FeedImportTable
    template_name = "scans/feed_list.html"

    def get_queryset(self):
        return selectors.feed_import_list()


class FeedCreateView(RoleRequiredMixin, ServiceFormMixin, FormView):
    required_role = write_role = Role.MANAGER
    form_class = FeedForm
    template_name = "scans/feed_form.html"
    success_message = "“{obj.filename}” uploaded; importing."

    def save(self, data):
        return feed_import_create(actor=self.request.user, **data)


class FeedDetailView(RoleRequiredMixin, PartialTemplateMixin, DetailView):
    """A feed import: progress while it runs (htmx), what it changed, and the
    re-evaluation runs it started, one per network, with theirs."""

    required_role = Role.MANAGER
    template_name = "scans/feed_detail.html"
    partial_name = "summary"
    context_object_name = "feed"

    def get_queryset(self):
        return selectors.feed_import_list()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["runs"] = selectors.feed_runs(feed=self.object)
        context["live"] = not self.object.is_done or any(not r.is_done for r in context["runs"])
        return context
