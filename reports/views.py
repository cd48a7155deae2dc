from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.generic import DetailView, FormView, TemplateView

from accounts.models import Role
from accounts.permissions import RoleRequiredMixin
from console.filters import MAX_ID
from console.forms import ServiceFormMixin
from console.htmx import PartialTemplateMixin
from console.listing import ListPageView
from core.digits import ascii_digits

from . import selectors, services
from .downloads import report_file_response
from .forms import ReportForm, ReportScheduleForm, ReportTemplateForm
from .models import (
    ALL_KINDS,
    ALL_SEVERITIES,
    DEFAULT_STATUSES,
    ReportDelivery,
    ReportFormat,
    ReportRecurrence,
    ReportSort,
    ReportTemplate,
)
from .tables import ReportScheduleTable, ReportTable, ReportTemplateTable


class VisibleReportMixin:
    """The report named in the URL, if the user may see it (owner or Manager);
    anyone else gets 404, so report ids do not leak."""

    def get_report(self):
        return get_object_or_404(
            selectors.reports_visible(user=self.request.user), pk=self.kwargs["pk"]
        )


class ReportListView(RoleRequiredMixin, ListPageView):
    table_class = ReportTable
    template_name = "reports/report_list.html"

    def get_queryset(self):
        return selectors.reports_visible(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = context["table"].page.object_list if context["table"].page else []
        context["polling"] = any(not row.record.is_done for row in rows)
        return context


class ReportDetailView(VisibleReportMixin, RoleRequiredMixin, PartialTemplateMixin, DetailView):
    template_name = "reports/report_detail.html"
    partial_name = "progress"
    context_object_name = "report"

    def get_object(self, queryset=None):
        return self.get_report()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["target_lines"] = selectors.report_target_lines(report=self.object)
        return context


class ReportCreateView(RoleRequiredMixin, ServiceFormMixin, FormView):
    # Every role runs reports (API.md: Reader = read and run reports).
    required_role = write_role = Role.READER
    form_class = ReportForm
    template_name = "reports/report_form.html"
    success_message = "Report {obj.title} queued."

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_initial(self):
        initial = {"network": "all"}
        wanted = self.request.GET.get("template", "")
        # A template id from a link; anything else (a typo, "abc") starts from the first.
        template = (
            ReportTemplate.objects.filter(pk=int(wanted)).first()
            if ascii_digits(wanted) and int(wanted) <= MAX_ID
            else None
        ) or ReportTemplate.objects.first()
        if template is not None:
            initial.update(template=template, title=template.title)
        return initial

    def save(self, data):
        return services.report_create(
            actor=self.request.user,
            title=data["title"],
            format=data["format"],
            template=data["template"],
            asset_groups=data["asset_groups"],
            targets=data["targets"],
            network=data["network"],
            tags=data["tags"],
        )


class ReportDownloadView(VisibleReportMixin, RoleRequiredMixin, TemplateView):
    """The file, to its owner, a Manager or a recipient it was delivered to. MEDIA
    is never served publicly."""

    def get(self, request, *args, **kwargs):
        return report_file_response(self.get_report(), actor=request.user)


class ReportDeleteView(VisibleReportMixin, RoleRequiredMixin, TemplateView):
    required_role = write_role = Role.READER
    template_name = "includes/confirm_delete.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.report = self.get_report()
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            object=self.report,
            object_type="report",
            cancel_url=self.report.get_absolute_url(),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        services.report_delete(actor=request.user, report=self.report)
        messages.success(request, f"Report {self.report.title} deleted.")
        return redirect("reports:report_list")


class TemplateListView(RoleRequiredMixin, ListPageView):
    table_class = ReportTemplateTable
    template_name = "reports/template_list.html"

    def get_queryset(self):
        return selectors.report_template_list()

    def get_table_kwargs(self):
        if self.request.user.has_role(Role.SCANNER):
            return {}
        return {"exclude": ("edit",)}


class TemplateFormView(RoleRequiredMixin, ServiceFormMixin, FormView):
    required_role = write_role = Role.SCANNER
    form_class = ReportTemplateForm
    template_name = "reports/template_form.html"
    success_message = "Report template {obj.title} saved."
    success_url_name = "reports:template_list"
    template_object = None

    def get_context_data(self, **kwargs):
        return super().get_context_data(template_object=self.template_object, **kwargs)


class TemplateCreateView(TemplateFormView):
    def get_initial(self):
        return {
            "sort": ReportSort.HOST,
            "severities": sorted(ALL_SEVERITIES, reverse=True),
            "statuses": DEFAULT_STATUSES,
            "kinds": ALL_KINDS,
            "include_evidence": True,
            "include_details": True,
            "group_by_network": False,
        }

    def save(self, data):
        return services.report_template_create(actor=self.request.user, **data)


class TemplateUpdateView(TemplateFormView):
    def dispatch(self, request, *args, **kwargs):
        self.template_object = get_object_or_404(ReportTemplate, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        t = self.template_object
        return {
            "title": t.title,
            "description": t.description,
            "sort": t.sort,
            "severities": t.severities,
            "statuses": t.statuses,
            "kinds": t.kinds,
            "include_evidence": t.include_evidence,
            "include_details": t.include_details,
            "group_by_network": t.group_by_network,
        }

    def save(self, data):
        return services.report_template_update(
            actor=self.request.user, template=self.template_object, **data
        )


class TemplateDeleteView(RoleRequiredMixin, TemplateView):
    required_role = write_role = Role.SCANNER
    template_name = "includes/confirm_delete.html"

    def dispatch(self, request, *args, **kwargs):
        self.template_object = get_object_or_404(ReportTemplate, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        t = self.template_object
        return super().get_context_data(
            object=t,
            object_type="report template",
            cancel_url=t.get_absolute_url(),
            refusal=f"'{t.title}' ships with Enclave and cannot be deleted."
            if t.is_builtin
            else "",
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        try:
            services.report_template_delete(actor=request.user, template=self.template_object)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(self.template_object)
        messages.success(request, f"Report template {self.template_object.title} deleted.")
        return redirect("reports:template_list")


# --- report schedules ---------------------------------------------------------------------


class VisibleScheduleMixin:
    """The report schedule named in the URL, if the user may see it (owner or
    Manager); anyone else gets 404."""

    def get_schedule(self):
        return get_object_or_404(
            selectors.report_schedules_visible(user=self.request.user), pk=self.kwargs["pk"]
        )


class ScheduleListView(RoleRequiredMixin, ListPageView):
    table_class = ReportScheduleTable
    template_name = "reports/schedule_list.html"

    def get_queryset(self):
        return selectors.report_schedules_visible(user=self.request.user)


class ScheduleDetailView(VisibleScheduleMixin, RoleRequiredMixin, DetailView):
    template_name = "reports/schedule_detail.html"
    context_object_name = "schedule"

    def get_object(self, queryset=None):
        return self.get_schedule()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        schedule = self.object
        context["recipients"] = schedule.recipients.order_by("username")
        context["asset_groups"] = schedule.asset_groups.select_related("network").order_by(
            "network__name", "title"
        )
        context["tags"] = schedule.tags.order_by("name")
        context["report_table"] = ReportTable(
            selectors.reports_visible(user=self.request.user).filter(schedule=schedule)[:20],
            orderable=False,
        )
        return context


class ScheduleFormView(RoleRequiredMixin, ServiceFormMixin, FormView):
    # Every role runs reports, so every role schedules them (its own).
    required_role = write_role = Role.READER
    form_class = ReportScheduleForm
    template_name = "reports/schedule_form.html"
    success_message = "Report schedule {obj.title} saved."
    schedule = None

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_context_data(self, **kwargs):
        return super().get_context_data(schedule=self.schedule, **kwargs)


class ScheduleCreateView(ScheduleFormView):
    def get_initial(self):
        return {
            "network": "all",
            "template": ReportTemplate.objects.first(),
            "format": ReportFormat.PDF,
            "recurrence": ReportRecurrence.WEEKLY,
            "delivery": ReportDelivery.ATTACH,
            "recipients": [self.request.user] if self.request.user.email else [],
            "active": True,
        }

    def save(self, data):
        return services.report_schedule_create(actor=self.request.user, **data)


class ScheduleUpdateView(VisibleScheduleMixin, ScheduleFormView):
    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.schedule = self.get_schedule()
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        s = self.schedule
        return {
            "title": s.title,
            "template": s.template,
            "format": s.format,
            "asset_groups": list(s.asset_groups.all()),
            "network": str(s.target_network_id) if s.target_network_id else "all",
            "targets": s.targets,
            "tags": list(s.tags.all()),
            "recurrence": s.recurrence,
            "start": timezone.localtime(s.start),
            "recipients": list(s.recipients.all()),
            "delivery": s.delivery,
            "active": s.active,
        }

    def save(self, data):
        return services.report_schedule_update(
            actor=self.request.user, schedule=self.schedule, **data
        )


class ScheduleDeleteView(VisibleScheduleMixin, RoleRequiredMixin, TemplateView):
    required_role = write_role = Role.READER
    template_name = "includes/confirm_delete.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.schedule = self.get_schedule()
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            object=self.schedule,
            object_type="report schedule",
            cancel_url=self.schedule.get_absolute_url(),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        services.report_schedule_delete(actor=request.user, schedule=self.schedule)
        messages.success(request, f"Report schedule {self.schedule.title} deleted.")
        return redirect("reports:schedule_list")
