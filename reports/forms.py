from django import forms

from assets.models import AssetGroup, Tag
from networks.selectors import networks_visible
from scans.models import DetectionStatus, Severity, VulnerabilityKind

from .models import ReportFormat, ReportSort, ReportTemplate


class ReportTemplateForm(forms.Form):
    title = forms.CharField(max_length=128)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    sort = forms.ChoiceField(choices=ReportSort.choices, widget=forms.RadioSelect)
    severities = forms.TypedMultipleChoiceField(
        choices=Severity.choices, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    statuses = forms.MultipleChoiceField(
        choices=DetectionStatus.choices, widget=forms.CheckboxSelectMultiple
    )
    kinds = forms.MultipleChoiceField(
        choices=VulnerabilityKind.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Types",
        help_text="Confirmed, potential and information-gathered findings.",
    )


class ReportForm(forms.Form):
    title = forms.CharField(max_length=200)
    template = forms.ModelChoiceField(queryset=ReportTemplate.objects.all(), empty_label=None)
    format = forms.ChoiceField(choices=ReportFormat.choices, initial=ReportFormat.PDF)
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset_groups"].queryset = AssetGroup.objects.select_related(
            "network"
        ).order_by("network__name", "title")
        self.fields["asset_groups"].label_from_instance = lambda g: f"{g.title} ({g.network.name})"
        self.fields["network"].choices = [("all", "All networks")] + [
            (str(n.pk), n.name) for n in networks_visible().order_by("name")
        ]
