import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from networks.models import Network

from .models import AssetGroup, Host, Tag

SEVERITIES = (5, 4, 3, 2, 1)
# The table container boosts its links to swap itself in place (sort, pages);
# a link to another page must leave the container, so it opts out.
LEAVE_TABLE = {"hx-boost": "false"}
SELECT_ALL = (
    "this.closest('table').querySelectorAll('td input[name=hosts]')"
    ".forEach(box => { box.checked = this.checked; })"
)


class SeverityColumn(tables.Column):
    """Open findings of one severity, from Network.open_findings (kept by ingest)."""

    def __init__(self, severity: int, **kwargs):
        self.severity = severity
        super().__init__(
            empty_values=(),
            orderable=False,
            verbose_name=format_html('<span class="sev sev-{0}">{0}</span>', severity),
            **kwargs,
        )

    def render(self, record):
        value = (record.open_findings or {}).get(str(self.severity), 0)
        return value or "—"


class NetworkHostsTable(tables.Table):
    """Host Assets: one row per network; a row expands in place to its hosts."""

    name = tables.Column(verbose_name="Network", orderable=False)
    host_count = tables.Column(verbose_name="Hosts", orderable=False)
    sev5 = SeverityColumn(5)
    sev4 = SeverityColumn(4)
    sev3 = SeverityColumn(3)
    sev2 = SeverityColumn(2)
    sev1 = SeverityColumn(1)

    class Meta:
        model = Network
        fields = ("name", "host_count")
        template_name = "assets/network_hosts_table.html"
        attrs = {"class": "network-hosts"}
        row_attrs = {"id": lambda record: f"network-{record.pk}"}

    def render_name(self, record):
        expand = reverse("assets:network_hosts", args=[record.pk])
        page = reverse("assets:host_list")
        return format_html(
            '<a class="expand" href="{page}?open={pk}#network-{pk}" hx-get="{expand}" '
            'hx-target="#hosts-of-{pk}" hx-select="#network-{pk}-hosts" hx-swap="innerHTML" '
            'hx-push-url="false" aria-controls="hosts-of-{pk}">&#9656; {name}</a>',
            page=page,
            pk=record.pk,
            expand=expand,
            name=record.name,
        )

    def render_host_count(self, value):
        return f"{value:,}"


class HostTable(tables.Table):
    """A page of one network's hosts in IP order (keyset pages: see selectors)."""

    select = tables.CheckBoxColumn(accessor="pk", orderable=False)
    ip = tables.Column(
        verbose_name="IP",
        linkify=True,
        orderable=False,
        attrs={"td": {"class": "ip"}, "a": LEAVE_TABLE},
    )
    dns = tables.Column(verbose_name="DNS", orderable=False)
    netbios = tables.Column(verbose_name="NetBIOS", orderable=False)
    os = tables.Column(verbose_name="OS", orderable=False)
    tags = tables.Column(empty_values=(), orderable=False)
    first_found = tables.DateTimeColumn(format="Y-m-d H:i", orderable=False)
    last_scanned = tables.DateTimeColumn(format="Y-m-d H:i", orderable=False)

    class Meta:
        model = Host
        fields = ("select", "ip", "dns", "netbios", "os", "tags", "first_found", "last_scanned")
        template_name = "assets/host_table.html"
        attrs = {"class": "hosts"}
        empty_text = "No hosts match."

    def __init__(self, *args, keyset=None, page_url="", form_id="tag-form", **kwargs):
        if form_id is None:
            kwargs.setdefault("exclude", ("select",))
        super().__init__(*args, **kwargs)
        self.keyset = keyset
        self.page_url = page_url
        if form_id:
            self.columns["select"].column.attrs = {
                "td__input": {"name": "hosts", "form": form_id},
                "th__input": {"aria-label": "Select all", "onclick": SELECT_ALL},
            }

    def render_tags(self, record):
        tags = record.tags.all()  # prefetched
        if not tags:
            return "—"
        return format_html_join(" ", '<span class="badge">{}</span>', ((t.name,) for t in tags))


class AssetGroupTable(tables.Table):
    title = tables.Column(linkify=True, attrs={"a": LEAVE_TABLE})
    network = tables.Column(accessor="network__name", verbose_name="Network")
    ips = tables.Column(verbose_name="IPs", orderable=False)
    domains = tables.Column(orderable=False)

    class Meta:
        model = AssetGroup
        fields = ("title", "network", "ips", "domains")
        order_by = ("title",)

    def render_ips(self, value):
        text = value if len(value) <= 120 else value[:117] + "…"
        return format_html("<code>{}</code>", text)

    def render_domains(self, value):
        return ", ".join(value.split())


class TagTable(tables.Table):
    name = tables.Column(
        linkify=("assets:tag_update", {"pk": tables.A("pk")}), attrs={"a": LEAVE_TABLE}
    )
    host_total = tables.Column(verbose_name="Hosts")

    class Meta:
        model = Tag
        fields = ("name", "host_total", "created_at")
        order_by = ("name",)


class OverlapTable(tables.Table):
    network_a = tables.Column(
        verbose_name="Network", linkify=True, orderable=False, attrs={"a": LEAVE_TABLE}
    )
    network_b = tables.Column(
        verbose_name="Overlaps with", linkify=True, orderable=False, attrs={"a": LEAVE_TABLE}
    )
    ranges = tables.Column(
        accessor="ranges_text", verbose_name="Overlapping ranges", orderable=False
    )
    hosts_in_both = tables.Column(verbose_name="Hosts in both", empty_values=(), orderable=False)

    class Meta:
        attrs = {"class": "overlaps"}
        empty_text = "No two networks' address spaces overlap."

    def render_ranges(self, value):
        return format_html("<code>{}</code>", value)

    def render_hosts_in_both(self, record):
        if record.hosts_in_both is None:
            return mark_safe('<span class="muted">not counted yet</span>')  # noqa: S308
        return f"{record.hosts_in_both:,}"
