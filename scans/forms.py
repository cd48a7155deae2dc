from django import forms
from django.conf import settings

from assets.models import AssetGroup
from networks.models import Network, ScannerAppliance
from networks.selectors import in_scope, networks_visible

from .models import ImportFormat, OptionProfile, Recurrence, ScanType, TcpPortSet
from .services.profiles import available_checks


class ScanForm(forms.Form):
    title = forms.CharField(max_length=200)
    type = forms.ChoiceField(choices=ScanType.choices, initial=ScanType.VULNERABILITY)
    network = forms.ModelChoiceField(queryset=Network.objects.none())
    appliance = forms.ModelChoiceField(
        queryset=ScannerAppliance.objects.none(),
        required=False,
        empty_label="All Scanners in Network",
        label="Scanner appliance",
    )
    targets = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="IPs/ranges",
        help_text="Addresses, ranges (10.0.0.1-10.0.0.50) and CIDR blocks, separated by "
        "commas or new lines, inside the network's address space.",
    )
    asset_groups = forms.ModelMultipleChoiceField(
        queryset=AssetGroup.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    option_profile = forms.ModelChoiceField(queryset=OptionProfile.objects.all())

    def __init__(self, *args, user, network: Network | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the user's networks, and their appliances and groups.
        self.fields["network"].queryset = networks_visible(user=user)
        appliances = in_scope(
            ScannerAppliance.objects.select_related("network").order_by("name"), user=user
        )
        groups = in_scope(AssetGroup.objects.select_related("network"), user=user)
        # A submitted form accepts any appliance and group, so the service can
        # refuse one of another network by name instead of "not a valid choice".
        if network is not None and not self.is_bound:
            appliances = appliances.filter(network=network)
            groups = groups.filter(network=network)
            self.fields["appliance"].label_from_instance = lambda a: f"{a.name} ({a.status})"
        else:
            # Without a network chosen (no JavaScript): everything, named with
            # its network; the service refuses a mismatch with a clear message.
            self.fields["appliance"].label_from_instance = lambda a: (
                f"{a.name} ({a.network}, {a.status})"
            )
            self.fields["asset_groups"].label_from_instance = lambda g: f"{g.title} ({g.network})"
        self.fields["appliance"].queryset = appliances
        self.fields["asset_groups"].queryset = groups


class ScheduleForm(ScanForm):
    """A scan's fields plus when it runs; the network (and appliance) may change later."""

    recurrence = forms.ChoiceField(choices=Recurrence.choices, initial=Recurrence.WEEKLY)
    start = forms.DateTimeField(
        label="First run",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Later runs fall on the same time of day; weekly on the same weekday; "
        "monthly on the same day (or the month's last day when it is shorter).",
    )
    active = forms.BooleanField(required=False, initial=True)


class OptionProfileForm(forms.Form):
    name = forms.CharField(max_length=100)
    tcp_port_set = forms.ChoiceField(
        choices=TcpPortSet.choices, label="TCP ports", widget=forms.RadioSelect
    )
    tcp_ports = forms.CharField(
        required=False,
        label="TCP port list",
        help_text="With “Custom”: ports and ranges, e.g. 22,80,443,8000-8100.",
    )
    udp_ports = forms.CharField(
        required=False, label="UDP ports", help_text="Optional, e.g. 53,123,161. Empty: no UDP."
    )
    service_detection = forms.BooleanField(required=False, initial=True)
    checks = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every check runs.",
    )
    max_parallel_hosts = forms.IntegerField(min_value=1, max_value=256, initial=16)
    host_timeout = forms.IntegerField(
        min_value=1, max_value=86400, initial=300, help_text="Seconds per host."
    )
    is_default = forms.BooleanField(required=False, label="Default profile")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["checks"].choices = [(c, c) for c in available_checks()]


class ImportForm(forms.Form):
    """Upload of another scanner's result file into a network the user chooses."""

    file = forms.FileField(
        label="Result file",
        help_text="nmap XML, Greenbone/OpenVAS XML report, Nessus .nessus (v2), or Qualys XML "
        "(scan report or host list detection output).",
    )
    format = forms.ChoiceField(
        choices=[("", "Detect from the file")] + ImportFormat.choices,
        required=False,
    )
    network = forms.ModelChoiceField(
        queryset=Network.objects.none(),
        empty_label="Choose the network these results belong to",
        error_messages={"required": "Choose the network these results belong to."},
        help_text="Every host of the file must lie in its address space (Global Default "
        "accepts any address).",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        networks = networks_visible(user=user)
        self.fields["network"].queryset = networks
        if not settings.ENCLAVE_NETWORKS_ENABLED:
            self.fields["network"].initial = networks.first()


class FeedForm(forms.Form):
    """Upload of a feed file (its kind is told by its content)."""

    file = forms.FileField(
        label="Feed file",
        help_text="NVD CVE JSON 2.0 (yearly or modified feed, .json or .json.gz), the CISA "
        "Known Exploited Vulnerabilities catalog (JSON), or FIRST EPSS scores (CSV, .csv.gz).",
    )
