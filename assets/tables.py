from collections.abc import Callable

import django_tables2 as tables
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from console.severity import severity_badge
from console.tables import EMPTY, FastBodyTable, NameLinksToForm, WhenColumn, id_url, when
from networks.models import Network

from .models import AssetGroup, Host, Tag
from .selectors import tag_names_by_host

# The table container boosts its links to swap itself in place (sort, pages);
# a link to another page must leave the container, so it opts out.
LEAVE_TABLE = {"hx-boost": "false"}
SELECT_ALL = (
    "this.closest('table').querySelectorAll('td input[name=hosts]')"
    ".forEach(box => { box.checked = this.checked; })"
)


# A page of hosts' open findings by severity: {host id: {severity: count}}.
# Detections belong to the scans app, a floor above, which hands its reader in
# when it starts (scans.apps); a host table asks it once for all the hosts of
# its page, so a page costs one grouped query, never one per row.
OpenFindingsReader = Callable[[list[int]], dict[int, dict[int, int]]]
_open_findings_reader: OpenFindingsReader | None = None


def open_findings_reader_set(reader: OpenFindingsReader | None) -> None:
    global _open_findings_reader
    _open_findings_reader = reader


class NetworkHostsTable(FastBodyTable):
    """Host Assets: one row per network; a row expands in place to its hosts."""

    name = tables.Column(verbose_name="Network", orderable=False)
    host_count = tables.Column(verbose_name="Hosts", orderable=False)
    sev5 = tables.Column(empty_values=(), orderable=False, verbose_name=severity_badge(5))
    sev4 = tables.Column(empty_values=(), orderable=False, verbose_name=severity_badge(4))
    sev3 = tables.Column(empty_values=(), orderable=False, verbose_name=severity_badge(3))
    sev2 = tables.Column(empty_values=(), orderable=False, verbose_name=severity_badge(2))
    sev1 = tables.Column(empty_values=(), orderable=False, verbose_name=severity_badge(1))

    class Meta:
        model = Network
        fields = ("name", "host_count")
        template_name = "includes/fast_table.html"
        attrs = {"class": "network-hosts"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.page_url = reverse("assets:host_list")
        self.expand_url = id_url("assets:network_hosts")
        self.column_count = len(self.columns)

    def row_attrs_html(self, record, index: int) -> str:
        return f' id="network-{record.pk}"{super().row_attrs_html(record, index)}'

    def after_row_html(self, record) -> str:
        """The cell the network's hosts open into: filled when the page was asked
        with ``?open=`` (no JavaScript), else by htmx. In Python, not a template
        block per row: that was half of the page's time at 50 networks."""
        hosts = ""
        if record.expansion:
            hosts = render_to_string(
                "assets/network_hosts.html#hosts",
                {"expansion": record.expansion},
                request=self.request,
            )
        return format_html(
            '<tr class="expansion"><td colspan="{}" id="hosts-of-{}">{}</td></tr>',
            self.column_count,
            record.pk,
            hosts,
        )

    def cell_name(self, record):
        return format_html(
            '<a class="expand" href="{page}?open={pk}#network-{pk}" hx-get="{expand}" '
            'hx-target="#hosts-of-{pk}" hx-select="#network-{pk}-hosts" hx-swap="innerHTML" '
            'hx-push-url="false" aria-controls="hosts-of-{pk}">&#9656; {name}</a>',
            page=self.page_url,
            pk=record.pk,
            expand=self.expand_url.format(record.pk),
            name=record.name,
        )

    def cell_host_count(self, record):
        return f"{record.host_count:,}"

    def _severity(self, record, severity: int):
        count = (record.open_findings or {}).get(str(severity))
        return f"{count:,}" if count else EMPTY

    def cell_sev5(self, record):
        return self._severity(record, 5)

    def cell_sev4(self, record):
        return self._severity(record, 4)

    def cell_sev3(self, record):
        return self._severity(record, 3)

    def cell_sev2(self, record):
        return self._severity(record, 2)

    def cell_sev1(self, record):
        return self._severity(record, 1)


class HostTable(FastBodyTable):
    """A page of one network's hosts in IP order (keyset pages: see selectors)."""

    select = tables.CheckBoxColumn(accessor="pk", orderable=False)
    ip = tables.Column(verbose_name="IP", orderable=False, attrs={"td": {"class": "ip"}})
    dns = tables.Column(verbose_name="DNS", orderable=False)
    netbios = tables.Column(verbose_name="NetBIOS", orderable=False)
    os = tables.Column(verbose_name="OS", orderable=False)
    tags = tables.Column(empty_values=(), orderable=False)
    first_found = tables.Column(orderable=False)
    last_scanned = tables.Column(orderable=False)
    sev5 = tables.Column(empty_values=(), orderable=False, verbose_name=severity_badge(5))
    sev4 = tables.Column(empty_values=(), orderable=False, verbose_name=severity_badge(4))
    sev3 = tables.Column(empty_values=(), orderable=False, verbose_name=severity_badge(3))
    sev2 = tables.Column(empty_values=(), orderable=False, verbose_name=severity_badge(2))
    sev1 = tables.Column(empty_values=(), orderable=False, verbose_name=severity_badge(1))

    class Meta:
        model = Host
        fields = ("select", "ip", "dns", "netbios", "os", "tags", "first_found", "last_scanned")
        sequence = (*fields, "sev5", "sev4", "sev3", "sev2", "sev1")
        template_name = "assets/host_table.html"
        attrs = {"class": "hosts"}
        empty_text = "No hosts match."

    def __init__(self, *args, keyset=None, form_id="tag-form", **kwargs):
        if form_id is None:
            kwargs.setdefault("exclude", ("select",))
        super().__init__(*args, **kwargs)
        self.keyset = keyset
        self.form_id = form_id
        self.detail_url = id_url("assets:host_detail")
        self.zone = timezone.get_current_timezone()
        self._open_findings: dict[int, dict[int, int]] | None = None
        self._tags: dict[int, list[str]] | None = None
        if form_id:
            self.columns["select"].column.attrs = {
                "th__input": {"aria-label": "Select all", "onclick": SELECT_ALL},
            }

    def cell_select(self, record):
        return format_html(
            '<input type="checkbox" name="hosts" value="{}" form="{}" aria-label="Select {}">',
            record.pk,
            self.form_id,
            record.ip,
        )

    def cell_ip(self, record):
        return format_html(
            '<a href="{}" hx-boost="false">{}</a>', self.detail_url.format(record.pk), record.ip
        )

    def _page_ids(self) -> list[int]:
        return [row.record.pk for row in self.paginated_rows]

    def cell_tags(self, record):
        if self._tags is None:  # one query for the page's hosts
            self._tags = tag_names_by_host(self._page_ids())
        names = self._tags.get(record.pk)
        if not names:
            return EMPTY
        return format_html_join(" ", '<span class="badge">{}</span>', ((n,) for n in names))

    def cell_first_found(self, record):
        return when(record.first_found, self.zone)

    def cell_last_scanned(self, record):
        return when(record.last_scanned, self.zone)

    def _severity(self, record, severity: int):
        if self._open_findings is None:
            reader = _open_findings_reader
            ids = self._page_ids()
            self._open_findings = reader(ids) if reader is not None and ids else {}
        count = self._open_findings.get(record.pk, {}).get(severity)
        return f"{count:,}" if count else EMPTY

    def cell_sev5(self, record):
        return self._severity(record, 5)

    def cell_sev4(self, record):
        return self._severity(record, 4)

    def cell_sev3(self, record):
        return self._severity(record, 3)

    def cell_sev2(self, record):
        return self._severity(record, 2)

    def cell_sev1(self, record):
        return self._severity(record, 1)


class AssetGroupTable(tables.Table):
    title = tables.Column(linkify=True, attrs={"a": LEAVE_TABLE})
    network = tables.Column(accessor="network__name", verbose_name="Network")
    ips = tables.Column(verbose_name="IPs", orderable=False)
    domains = tables.Column(orderable=False)

    class Meta:
        empty_text = "No asset groups yet."
        model = AssetGroup
        fields = ("title", "network", "ips", "domains")
        order_by = ("title",)

    def render_ips(self, value):
        text = value if len(value) <= 120 else value[:117] + "…"
        return format_html("<code>{}</code>", text)

    def render_domains(self, value):
        return ", ".join(value.split())


class TagTable(NameLinksToForm, tables.Table):
    name = tables.Column(
        linkify=("assets:tag_update", {"pk": tables.A("pk")}), attrs={"a": LEAVE_TABLE}
    )
    host_total = tables.Column(verbose_name="Hosts")
    created_at = WhenColumn(verbose_name="Created")

    class Meta:
        empty_text = "No tags yet."
        model = Tag
        fields = ("name", "host_total", "created_at")
        order_by = ("name",)


class OverlapTable(FastBodyTable):
    network_a = tables.Column(verbose_name="Network", orderable=False)
    network_b = tables.Column(verbose_name="Overlaps with", orderable=False)
    ranges = tables.Column(verbose_name="Overlapping ranges", orderable=False)
    hosts_in_both = tables.Column(verbose_name="Hosts in both", empty_values=(), orderable=False)

    class Meta:
        template_name = "includes/fast_table.html"
        attrs = {"class": "overlaps"}
        empty_text = "No two networks' address spaces overlap."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.network_url = id_url("networks:network_detail")

    def _network(self, network):
        return format_html(
            '<a href="{}" hx-boost="false">{}</a>', self.network_url.format(network.pk), network
        )

    def cell_network_a(self, record):
        return self._network(record.network_a)

    def cell_network_b(self, record):
        return self._network(record.network_b)

    def cell_ranges(self, record):
        return format_html("<code>{}</code>", record.ranges_text)

    def cell_hosts_in_both(self, record):
        if record.hosts_in_both is None:
            return mark_safe('<span class="muted">not counted yet</span>')  # noqa: S308
        return f"{record.hosts_in_both:,}"
