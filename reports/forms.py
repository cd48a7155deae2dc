from django import forms

from accounts.models import User
from assets.models import AssetGroup, Tag
from networks.selectors import in_scope, networks_visible
from scans.models import DetectionStatus, Severity, VulnerabilityKind

from .models import ReportDelivery, ReportFormat, ReportRecurrence, ReportSort, ReportTemplate


class ReportTemplateForm(forms.Form):
    title = forms.CharField(max_length=128)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    sort = forms.ChoiceField(choices=ReportSort.choices, widget=forms.RadioSelect)
    severities = forms.TypedMultipleChoiceField(
        choices=Severity.choices, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    statuses = forms.MultipleChoiceField(
        choices=DetectionStatus.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick Fixed to include fixed findings, untick it to omit them.",
    )
    kinds = forms.MultipleChoiceField(
        choices=VulnerabilityKind.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Types",
        help_text="Confirmed, potential and information-gathered findings: untick "
        "Information gathered to omit those.",
    )
    include_evidence = forms.BooleanField(
        required=False,
        label="Evidence",
        help_text="What each check saw (banner, certificate, headers), beside every finding.",
    )
    include_details = forms.BooleanField(
        required=False,
        label="Vulnerability details",
        help_text="Threat, impact, solution, CVEs and CVSS, once per QID.",
    )
    group_by_network = forms.BooleanField(
        required=False,
        label="Group by network",
        help_text="Each network's hosts (or vulnerabilities) together, then the sort.",
    )


class _TargetFields(forms.Form):
    """A report's target: asset groups, IPs/ranges in one network or all, tags."""

    asset_groups = forms.ModelMultipleChoiceField(
        queryset=AssetGroup.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Each group reports on its own network only.",
    )
    network = forms.ChoiceField(
        label="Network for IPs/ranges",
        help_text="Narrows the IPs/ranges below only: one network, or All networks.",
    )
    targets = forms.CharField(
        label="IPs/ranges",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Addresses, a-b ranges and CIDR blocks, separated by commas or new lines.",
    )
    tags = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.all(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
        help_text="Hosts with any of these tags, in any network.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the user's networks and their groups; "All" is all of theirs.
        self.fields["asset_groups"].queryset = in_scope(
            AssetGroup.objects.select_related("network"), user=user
        ).order_by("network__name", "title")
        self.fields["asset_groups"].label_from_instance = lambda g: f"{g.title} ({g.network.name})"
        self.fields["network"].choices = [("all", "All networks")] + [
            (str(n.pk), n.name) for n in networks_visible(user=user).order_by("name")
        ]


class ReportForm(_TargetFields):
    title = forms.CharField(max_length=200)
    template = forms.ModelChoiceField(
        queryset=ReportTemplate.objects.all(),
        empty_label=None,
        help_text="The sort, the filters and the options (evidence, details, grouping).",
    )
    format = forms.ChoiceField(choices=ReportFormat.choices, initial=ReportFormat.PDF)

    field_order = ["title", "template", "format", "asset_groups", "network", "targets", "tags"]


class ReportScheduleForm(_TargetFields):
    title = forms.CharField(max_length=200, help_text="Each report is titled this and its date.")
    template = forms.ModelChoiceField(queryset=ReportTemplate.objects.all(), empty_label=None)
    format = forms.ChoiceField(choices=ReportFormat.choices, initial=ReportFormat.PDF)
    recurrence = forms.ChoiceField(
        choices=ReportRecurrence.choices, initial=ReportRecurrence.WEEKLY
    )
    start = forms.DateTimeField(
        label="First run",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Later runs fall on the same time of day; weekly on the same weekday; "
        "monthly on the same day (or the month's last day when it is shorter).",
    )
    recipients = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text="Each gets the report by e-mail and may open it in Enclave.",
    )
    delivery = forms.ChoiceField(
        choices=ReportDelivery.choices,
        initial=ReportDelivery.ATTACH,
        widget=forms.RadioSelect,
        help_text="A file over the size limit is always linked.",
    )
    active = forms.BooleanField(required=False, initial=True)

    field_order = ["title", "template", "format", "asset_groups", "network", "targets", "tags"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recipients"].queryset = User.objects.filter(is_active=True).order_by(
            "username"
        )
        self.fields["recipients"].label_from_instance = lambda u: (
            f"{u.username} <{u.email}>" if u.email else f"{u.username} (no e-mail address)"
        )
