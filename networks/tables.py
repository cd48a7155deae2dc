import django_tables2 as tables
from django.utils.html import format_html, format_html_join

from console.tables import WhenColumn

from .models import Network, ScannerAppliance

ANY_ADDRESS = format_html('<span class="muted">{}</span>', "any address (custom networks' too)")


class NetworkTable(tables.Table):
    name = tables.Column(linkify=True)
    appliances = tables.Column(empty_values=(), orderable=False, verbose_name="Scanner appliances")
    # empty_values=(): a built-in network's space is blank, and says so below.
    address_space = tables.Column(empty_values=(), orderable=False, verbose_name="Address space")
    host_count = tables.Column(verbose_name="Hosts")

    class Meta:
        empty_text = "No networks."
        model = Network
        fields = ("name", "kind", "appliances", "address_space", "host_count")
        order_by = ("kind", "name")

    def render_appliances(self, record):
        appliances = record.appliances.all()  # prefetched
        if not appliances:
            return "—"
        return format_html_join(
            ", ",
            '<span class="status-{}" title="{}">{}</span>',
            ((a.status, a.status, a.name) for a in appliances),
        )

    def render_address_space(self, record, value):
        if record.is_built_in:
            return ANY_ADDRESS
        return format_html("<code>{}</code>", value)


class ScannerApplianceTable(tables.Table):
    name = tables.Column(linkify=("networks:appliance_detail", {"pk": tables.A("pk")}))
    network = tables.Column(linkify=True)
    status = tables.Column(empty_values=(), orderable=False)
    last_seen = WhenColumn(seconds=True, verbose_name="Last heartbeat")

    class Meta:
        empty_text = "No scanner appliances yet."
        model = ScannerAppliance
        fields = ("name", "network", "status", "last_seen", "version", "nmap_version")

    def render_status(self, record):
        status = record.status
        return format_html('<span class="badge status-{}">{}</span>', status, status.capitalize())
