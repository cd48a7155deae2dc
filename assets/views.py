"""Assets > Host Assets, Asset Groups, Tags, and the network overlap view."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import FormView, TemplateView, View
from django_tables2 import RequestConfig

from accounts.models import Role
from accounts.permissions import RoleRequiredMixin
from console.forms import ServiceFormMixin
from console.htmx import PartialTemplateMixin
from console.listing import ListPageView
from core.digits import ascii_digits

from . import selectors, services
from .filters import HostFilterSet
from .forms import AssetGroupForm, HostTagForm, TagForm
from .models import Tag
from .tables import AssetGroupTable, HostTable, NetworkHostsTable, OverlapTable, TagTable

# Scanners and Managers keep asset groups and tags; Readers read.
ASSET_WRITE_ROLE = Role.SCANNER
CURSOR_PARAMS = ("after", "before", "open")


def _filter_query(request) -> dict[str, str]:
    """The request's filter values, without the page cursors."""
    return {key: value for key, value in request.GET.items() if key not in CURSOR_PARAMS and value}


def host_page_context(request, *, queryset, url: str, prefix: str, form_id: str | None) -> dict:
    """A filter, one keyset page of hosts as a table, and the links around it.

    Bounded queries whatever the size: the page (LIMIT 51), its tags, and the
    tag choices of the filter.
    """
    filterset = HostFilterSet(request.GET or None, queryset=queryset, request=request)
    filterset.form.auto_id = f"id_{prefix}_%s"  # several tables may share a page
    if filterset.is_bound and not filterset.is_valid():
        hosts = queryset.none()
    else:
        hosts = filterset.qs if filterset.is_bound else queryset
    page = selectors.keyset_page(
        hosts, after=request.GET.get("after"), before=request.GET.get("before")
    )
    query = _filter_query(request)

    def link(**cursor):
        return f"{url}?{urlencode({**query, **cursor})}"

    table = HostTable(page.rows, keyset=page, prefix=prefix, form_id=form_id)
    table.first_url = link() if page.has_previous else None
    table.next_url = link(after=page.next_after) if page.has_next else None
    table.previous_url = link(before=page.previous_before) if page.has_previous else None
    return {"filter": filterset, "table": table, "page": page, "filtered": bool(query)}


class HostAssetsView(RoleRequiredMixin, PartialTemplateMixin, TemplateView):
    """Every visible network with its host count and open findings; each row
    opens in place (htmx) or with ``?open=<id>`` (no JavaScript) to its hosts."""

    template_name = "assets/host_list.html"
    partial_name = "table"

    def get_context_data(self, **kwargs):
        networks = list(selectors.host_networks(user=self.request.user))
        open_ids = {int(v) for v in self.request.GET.getlist("open") if ascii_digits(v)}
        for network in networks:
            network.expansion = (
                _network_hosts_context(self.request, network) if network.pk in open_ids else None
            )
        table = NetworkHostsTable(networks)
        RequestConfig(self.request, paginate={"per_page": 100}).configure(table)
        return super().get_context_data(table=table, **kwargs)


def _network_hosts_context(request, network) -> dict:
    can_tag = request.user.has_role(ASSET_WRITE_ROLE)
    context = host_page_context(
        request,
        queryset=selectors.hosts_of_network(network=network),
        url=reverse("assets:network_hosts", args=[network.pk]),
        prefix=f"net{network.pk}",
        form_id=f"tag-form-{network.pk}" if can_tag else None,
    )
    context.update(
        network=network,
        can_tag=can_tag,
        tags=list(Tag.objects.order_by("name")) if can_tag else [],
        form_id=f"tag-form-{network.pk}",
        next_url=f"{reverse('assets:host_list')}?open={network.pk}#network-{network.pk}",
    )
    return context


class NetworkHostsView(RoleRequiredMixin, PartialTemplateMixin, TemplateView):
    """One network's hosts: the in-place expansion, also a page of its own."""

    template_name = "assets/network_hosts.html"
    partial_name = "hosts"

    def get_context_data(self, **kwargs):
        network = get_object_or_404(
            selectors.host_networks(user=self.request.user), pk=self.kwargs["pk"]
        )
        return super().get_context_data(
            expansion=_network_hosts_context(self.request, network), **kwargs
        )


class HostDetailView(RoleRequiredMixin, TemplateView):
    template_name = "assets/host_detail.html"

    def get_context_data(self, **kwargs):
        host = get_object_or_404(
            selectors.hosts_visible(user=self.request.user)
            .select_related("network", "cloud__connector")
            .prefetch_related("tags"),
            pk=self.kwargs["pk"],
        )
        return super().get_context_data(
            host=host,
            elsewhere=selectors.host_same_ip_elsewhere(host=host, user=self.request.user),
            **kwargs,
        )


def _safe_next(request, value: str | None, fallback: str) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return fallback


class HostTagView(RoleRequiredMixin, View):
    """Assigns or removes a tag on the hosts ticked in a host table."""

    required_role = write_role = ASSET_WRITE_ROLE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = HostTagForm(request.POST)
        back = _safe_next(request, request.POST.get("next"), reverse("assets:host_list"))
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(errors))
            return redirect(back)
        data = form.cleaned_data
        service = services.tag_assign if data["action"] == "assign" else services.tag_remove
        try:
            changed = service(actor=request.user, tag=data["tag"], hosts=data["hosts"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(back)
        verb = "added to" if data["action"] == "assign" else "removed from"
        messages.success(request, f"Tag {data['tag'].name} {verb} {changed} host(s).")
        return redirect(back)


# --- Asset groups ------------------------------------------------------------------


class AssetGroupListView(RoleRequiredMixin, ListPageView):
    table_class = AssetGroupTable
    template_name = "assets/asset_group_list.html"

    def get_queryset(self):
        return selectors.asset_group_list(user=self.request.user)


class AssetGroupDetailView(RoleRequiredMixin, PartialTemplateMixin, TemplateView):
    template_name = "assets/asset_group_detail.html"
    partial_name = "table"

    def get_context_data(self, **kwargs):
        group = get_object_or_404(
            selectors.asset_group_list(user=self.request.user), pk=self.kwargs["pk"]
        )
        context = host_page_context(
            self.request,
            queryset=selectors.hosts_of_asset_group(group=group),
            url=group.get_absolute_url(),
            prefix="group",
            form_id=None,
        )
        return super().get_context_data(group=group, **context, **kwargs)


class AssetGroupFormView(RoleRequiredMixin, ServiceFormMixin, FormView):
    required_role = write_role = ASSET_WRITE_ROLE
    form_class = AssetGroupForm
    template_name = "assets/asset_group_form.html"
    success_message = "Asset group {obj.title} saved."
    group = None

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "group": self.group, "user": self.request.user}

    def get_context_data(self, **kwargs):
        return super().get_context_data(group=self.group, **kwargs)


class AssetGroupCreateView(AssetGroupFormView):
    def get_initial(self):
        network = self.request.GET.get("network")
        return {"network": network} if network and ascii_digits(network) else {}

    def save(self, data):
        return services.asset_group_create(actor=self.request.user, **data)


class AssetGroupUpdateView(AssetGroupFormView):
    def dispatch(self, request, *args, **kwargs):
        self.group = get_object_or_404(
            selectors.asset_group_list(user=request.user), pk=kwargs["pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        return {
            "title": self.group.title,
            "network": self.group.network,
            "ips": self.group.ips,
            "domains": self.group.domains,
            "description": self.group.description,
        }

    def save(self, data):
        # The form's network field is disabled: it carries the group's own
        # network, which the service accepts; any other is refused there.
        return services.asset_group_update(actor=self.request.user, group=self.group, **data)


class DeleteView(RoleRequiredMixin, TemplateView):
    """The shared confirm-and-delete page for groups and tags."""

    required_role = write_role = ASSET_WRITE_ROLE
    template_name = "includes/confirm_delete.html"
    object_type = ""

    def dispatch(self, request, *args, **kwargs):
        self.object = self.get_object()
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            object=self.object,
            object_type=self.object_type,
            cancel_url=self.cancel_url(),
            **kwargs,
        )


class AssetGroupDeleteView(DeleteView):
    object_type = "asset group"

    def get_object(self):
        return get_object_or_404(
            selectors.asset_group_list(user=self.request.user), pk=self.kwargs["pk"]
        )

    def cancel_url(self):
        return self.object.get_absolute_url()

    def post(self, request, *args, **kwargs):
        services.asset_group_delete(actor=request.user, group=self.object)
        messages.success(request, f"Asset group {self.object.title} deleted.")
        return redirect("assets:asset_group_list")


# --- Tags --------------------------------------------------------------------------


class TagListView(RoleRequiredMixin, ListPageView):
    table_class = TagTable
    template_name = "assets/tag_list.html"
    edit_role = ASSET_WRITE_ROLE

    def get_queryset(self):
        return selectors.tag_list(user=self.request.user)


class TagFormView(RoleRequiredMixin, ServiceFormMixin, FormView):
    required_role = write_role = ASSET_WRITE_ROLE
    form_class = TagForm
    template_name = "assets/tag_form.html"
    success_message = "Tag {obj.name} saved."
    success_url_name = "assets:tag_list"
    tag = None

    def get_context_data(self, **kwargs):
        return super().get_context_data(tag=self.tag, **kwargs)


class TagCreateView(TagFormView):
    def save(self, data):
        return services.tag_create(actor=self.request.user, name=data["name"])


class TagUpdateView(TagFormView):
    def dispatch(self, request, *args, **kwargs):
        self.tag = get_object_or_404(Tag, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        return {"name": self.tag.name}

    def save(self, data):
        return services.tag_update(actor=self.request.user, tag=self.tag, name=data["name"])


class TagDeleteView(DeleteView):
    object_type = "tag"

    def get_object(self):
        return get_object_or_404(Tag, pk=self.kwargs["pk"])

    def cancel_url(self):
        return reverse("assets:tag_list")

    def post(self, request, *args, **kwargs):
        services.tag_delete(actor=request.user, tag=self.object)
        messages.success(request, f"Tag {self.object.name} deleted.")
        return redirect("assets:tag_list")


# --- Network overlaps --------------------------------------------------------------


class OverlapListView(RoleRequiredMixin, PartialTemplateMixin, TemplateView):
    """Every pair of networks whose address spaces overlap, where, and how
    many hosts exist in both (the figure overlaps_refresh keeps)."""

    template_name = "assets/overlap_list.html"
    partial_name = "table"

    def get_context_data(self, **kwargs):
        from django.conf import settings

        if not settings.ENCLAVE_NETWORKS_ENABLED:
            raise Http404("Network support is switched off.")
        overlaps = selectors.network_overlaps(user=self.request.user)
        table = OverlapTable(overlaps)
        RequestConfig(self.request, paginate={"per_page": 100}).configure(table)
        return super().get_context_data(
            table=table,
            # Stored rows (a queryset) are current; a live list may hold uncounted pairs.
            uncounted=isinstance(overlaps, list) and any(o.hosts_in_both is None for o in overlaps),
            can_recount=self.request.user.has_role(ASSET_WRITE_ROLE),
            **kwargs,
        )


class OverlapRefreshView(RoleRequiredMixin, View):
    required_role = write_role = ASSET_WRITE_ROLE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        services.overlaps_refresh()  # the figures are kept for all pairs; shown per grant
        # Say how many of the pairs this user sees: the others do not exist for them.
        pairs = len(selectors.network_overlaps(user=request.user))
        messages.success(request, f"Counted the hosts of {pairs} overlapping network pair(s).")
        return redirect("assets:overlap_list")
