"""The dashboard (the landing page) and the global search."""

from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from accounts.permissions import RoleRequiredMixin
from console.htmx import PartialTemplateMixin, htmx_partial
from networks.selectors import networks_visible

from . import charts, selectors


class NetworkScopeMixin:
    """``?network=<id>``: one visible network; absent or unknown: all of them."""

    def scope(self) -> tuple:
        value = self.request.GET.get("network", "")
        network = (
            networks_visible().filter(pk=int(value)).first()
            if value.isascii() and value.isdigit() and len(value) < 19
            else None
        )
        return network, selectors.networks_in_scope(network=network)


class DashboardView(RoleRequiredMixin, NetworkScopeMixin, TemplateView):
    """Exposure at a glance, for one network or all: each tile links to the
    list behind it; the running scans tile refreshes itself (htmx)."""

    template_name = "insights/dashboard.html"

    def get_context_data(self, **kwargs):
        network, networks = self.scope()
        days = self.request.GET.get("days", "30")
        days = int(days) if days in {str(p) for p in selectors.PERIODS} else 30
        context = super().get_context_data(**kwargs)
        context.update(
            network=network,
            networks=list(networks_visible().order_by("kind", "name")),
            days=days,
            periods=selectors.PERIODS,
            scans=selectors.scans_in_progress(networks=networks),
        )
        severities = selectors.open_by_severity(networks=networks)
        hosts_of = reverse("assets:host_list") + "?open={0}#network-{0}"
        points = selectors.trend_series(networks=networks, days=days)
        context.update(
            severities=severities,
            open_total=sum(s.total for s in severities),
            severity_chart=charts.severity_bars(
                [
                    (
                        s.network.name,
                        hosts_of.format(s.network.pk),
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
            top_vulnerabilities=selectors.top_vulnerabilities(networks=networks),
            appliances=selectors.appliance_health(networks=networks),
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


class SearchView(RoleRequiredMixin, TemplateView):
    """The header's search box: an IP, a range, a DNS name, a QID or a CVE."""

    template_name = "insights/search.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            results=selectors.search(q=self.request.GET.get("q", "")), **kwargs
        )
