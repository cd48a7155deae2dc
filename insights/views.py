"""The dashboard (the landing page) and the global search."""

import csv
from urllib.parse import urlencode

from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView, View

from accounts.permissions import RoleRequiredMixin
from assets.selectors import hosts_visible
from console.htmx import PartialTemplateMixin, htmx_partial
from core.digits import ascii_digits
from networks.selectors import networks_visible
from scans import selectors as scan_selectors

from . import charts, selectors, vulnerabilities
from .forms import VulnerabilityFilterForm
from .tables import VulnerabilityTable


class NetworkScopeMixin:
    """``?network=<id>``: one visible network; absent or unknown: all of them."""

    def scope(self) -> tuple:
        value = self.request.GET.get("network", "")
        network = (
            networks_visible(user=self.request.user).filter(pk=int(value)).first()
            if ascii_digits(value) and len(value) < 19
            else None
        )
        return network, selectors.networks_in_scope(network=network, user=self.request.user)


class DashboardView(RoleRequiredMixin, NetworkScopeMixin, TemplateView):
    """Exposure at a glance, for one network or all: each tile links to the
    list behind it; the running scans tile refreshes itself (htmx)."""

    template_name = "insights/dashboard.html"

    def get_context_data(self, **kwargs):
        network, networks = self.scope()
        days = self.request.GET.get("days", "30")
        days = int(days) if days in {str(p) for p in selectors.PERIODS} else 30
        top = self.request.GET.get("top", "hosts")
        top = top if top in selectors.TOP_ORDERS else "hosts"
        context = super().get_context_data(**kwargs)
        context.update(
            network=network,
            networks=list(networks_visible(user=self.request.user).order_by("kind", "name")),
            days=days,
            periods=selectors.PERIODS,
            scans=selectors.scans_in_progress(networks=networks),
        )
        severities = selectors.open_by_severity(networks=networks)
        findings_in = reverse("insights:vulnerability_list") + "?network={0}"
        # Trend rows are days of the server's zone (beat and the workers take
        # them); a user in Tokyo past midnight must not ask for a day not taken yet.
        points = selectors.trend_series(
            networks=networks,
            days=days,
            today=timezone.localdate(timezone=timezone.get_default_timezone()),
        )
        context.update(
            severities=severities,
            open_total=sum(s.total for s in severities),
            severity_chart=charts.severity_bars(
                [
                    (
                        s.network.name,
                        findings_in.format(s.network.pk),
                        s.counts,
                    )
                    for s in severities
                ]
            ),
            trend_chart=charts.trend_lines(
                points, series=(("new", "New", "#cf222e"), ("fixed", "Fixed", "#1a7f37"))
            ),
            has_trend=any(p.new or p.fixed or p.open for p in points),
            top_hosts=selectors.top_hosts(networks=networks),
            top_vulnerabilities=selectors.top_vulnerabilities(networks=networks, order=top),
            top_order=top,
            top_label=selectors.TOP_ORDERS[top],
            top_orders=selectors.TOP_ORDERS,
            appliances=selectors.appliance_health(networks=networks),
            failover_pause=scan_selectors.failover_pause(),
            imports=selectors.recent_imports(networks=networks),
            # Connectors are Managers' (their pages too): a run reads cloud
            # accounts across networks, so no network grant scopes it for others.
            connectors=(
                selectors.recent_connector_runs() if self.request.user.is_manager else None
            ),
        )
        return context


class DashboardScansView(RoleRequiredMixin, NetworkScopeMixin, PartialTemplateMixin, TemplateView):
    """The running and queued scans tile, which polls itself while any runs."""

    template_name = "insights/dashboard.html"
    partial_name = "scans"

    def get(self, request, *args, **kwargs):
        if not htmx_partial(request):  # the tile lives on the dashboard
            query = request.GET.urlencode()
            return redirect(f"{reverse('insights:dashboard')}{'?' + query if query else ''}")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        network, networks = self.scope()
        return super().get_context_data(
            network=network, scans=selectors.scans_in_progress(networks=networks), **kwargs
        )


class HostHistoryView(RoleRequiredMixin, PartialTemplateMixin, TemplateView):
    """A host's findings over the last 90 days. The host page (assets) loads the
    ``history`` partial with htmx; without JavaScript its link opens this page."""

    template_name = "insights/host_history.html"
    partial_name = "history"

    def get_context_data(self, **kwargs):
        host = get_object_or_404(
            hosts_visible(user=self.request.user).select_related("network"), pk=self.kwargs["pk"]
        )
        points = selectors.host_history(host=host)
        return super().get_context_data(
            host=host,
            has_history=any(p.open or p.fixed for p in points),
            chart=charts.trend_lines(
                points,
                series=(
                    ("open", "Open", "#0969da"),
                    ("serious", "Open, severity 4-5", "#cf222e"),
                    ("fixed", "Fixed that day", "#1a7f37"),
                ),
                label=f"Findings of {host.ip} over time",
            ),
            first=points[0].date,
            **kwargs,
        )


class SearchView(RoleRequiredMixin, TemplateView):
    """The header's search box: an IP, a range, a DNS name, a QID or a CVE."""

    template_name = "insights/search.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            results=selectors.search(q=self.request.GET.get("q", ""), user=self.request.user),
            **kwargs,
        )


# --- Vulnerabilities ----------------------------------------------------------------------


class VulnerabilityListView(RoleRequiredMixin, PartialTemplateMixin, TemplateView):
    """Every detection across the networks, filtered, sorted, paged by keyset;
    ``?group=qid`` shows them grouped by QID with the affected hosts per network."""

    template_name = "insights/vulnerability_list.html"
    partial_name = "results"

    def get_context_data(self, **kwargs):
        form = VulnerabilityFilterForm(self.request.GET or None, user=self.request.user)
        grouped = self.request.GET.get("group") == "qid"
        context = super().get_context_data(form=form, grouped=grouped, **kwargs)
        if form.is_bound and not form.is_valid():
            return context
        if not form.is_bound:
            form = VulnerabilityFilterForm({}, user=self.request.user)
            form.is_valid()
        criteria = form.criteria()
        query = {k: v for k, v in self.request.GET.lists() if k not in ("after", "group")}
        context["export_url"] = (
            f"{reverse('insights:vulnerability_export')}?{urlencode(query, doseq=True)}"
        )
        context["grouped_url"] = f"?{urlencode({**query, 'group': 'qid'}, doseq=True)}"
        context["list_url"] = f"?{urlencode(query, doseq=True)}"
        if grouped:
            context["groups"] = vulnerabilities.grouped_by_qid(criteria)
            return context
        sort = form.cleaned_data.get("sort") or vulnerabilities.DEFAULT_SORT
        page = vulnerabilities.page(criteria, sort=sort, after=form.cleaned_data.get("after"))
        table = VulnerabilityTable(page.rows, order_by=page.sort)
        table.page_size = vulnerabilities.PAGE_SIZE
        base = {k: v for k, v in query.items() if k != "sort"}
        base["sort"] = [page.sort]
        table.first_url = (
            f"?{urlencode(base, doseq=True)}" if form.cleaned_data.get("after") else None
        )
        table.next_url = (
            f"?{urlencode({**base, 'after': page.next_cursor}, doseq=True)}"
            if page.next_cursor
            else None
        )
        context["table"] = table
        return context


class VulnerabilityExportView(RoleRequiredMixin, View):
    """The list as CSV, every filtered row streamed (never the whole list in
    memory); cells a spreadsheet would run are neutralised."""

    def get(self, request, *args, **kwargs):
        form = VulnerabilityFilterForm(request.GET, user=request.user)
        if not form.is_valid():
            return HttpResponseBadRequest(
                "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()),
                content_type="text/plain",
            )
        rows = vulnerabilities.csv_rows(form.criteria())
        writer = csv.writer(Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="vulnerabilities-{stamp}.csv"'
        return response


class Echo:
    """A file-like object whose write returns what it was given (csv.writer to a stream)."""

    def write(self, value: str) -> str:
        return value
