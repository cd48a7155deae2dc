from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import DetailView, FormView, TemplateView

from accounts.models import Role
from accounts.permissions import RoleRequiredMixin
from console.filters import MAX_ID
from console.forms import apply_validation_error
from console.htmx import PartialTemplateMixin
from console.listing import ListPageView

from . import selectors, services
from .downloads import report_file_response
from .forms import ReportForm, ReportTemplateForm
from .models import ALL_KINDS, ALL_SEVERITIES, DEFAULT_STATUSES, ReportSort, ReportTemplate
from .tables import ReportTable, ReportTemplateTable


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


class ReportCreateView(RoleRequiredMixin, FormView):
    # Every role runs reports (API.md: Reader = read and run reports).
    required_role = write_role = Role.READER
    form_class = ReportForm
    template_name = "reports/report_form.html"

    def get_initial(self):
        initial = {"network": "all"}
        wanted = self.request.GET.get("template", "")
        # A template id from a link; anything else (a typo, "abc") starts from the first.
        template = (
            ReportTemplate.objects.filter(pk=int(wanted)).first()
            if wanted.isascii() and wanted.isdigit() and int(wanted) <= MAX_ID
            else None
        ) or ReportTemplate.objects.first()
        if template is not None:
            initial.update(template=template, title=template.title)
        return initial

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            report = services.report_create(
                actor=self.request.user,
                title=data["title"],
                format=data["format"],
                template=data["template"],
                asset_groups=data["asset_groups"],
                targets=data["targets"],
                network=data["network"],
                tags=data["tags"],
            )
        except ValidationError as error:
            apply_validation_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, f"Report {report.title} queued.")
        return redirect(report)


class ReportDownloadView(VisibleReportMixin, RoleRequiredMixin, TemplateView):
    """The file, to its owner or a Manager only. MEDIA is never served publicly."""

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


class TemplateFormView(RoleRequiredMixin, FormView):
    required_role = write_role = Role.SCANNER
    form_class = ReportTemplateForm
    template_name = "reports/template_form.html"
    template_object = None

    def get_context_data(self, **kwargs):
        return super().get_context_data(template_object=self.template_object, **kwargs)

    def form_valid(self, form):
        try:
            template = self.save(form.cleaned_data)
        except ValidationError as error:
            apply_validation_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, f"Report template {template.title} saved.")
        return redirect("reports:template_list")


class TemplateCreateView(TemplateFormView):
    def get_initial(self):
        return {
            "sort": ReportSort.HOST,
            "severities": sorted(ALL_SEVERITIES, reverse=True),
            "statuses": DEFAULT_STATUSES,
            "kinds": ALL_KINDS,
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
