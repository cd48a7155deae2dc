from django import forms
from django.conf import settings

from networks.models import Network
from networks.selectors import networks_visible

from .models import AssetGroup, Tag

IPS_HELP = (
    "IPv4 or IPv6 addresses, ranges (10.0.0.1-10.0.0.50) and CIDR blocks (10.0.0.0/24), "
    "separated by commas or new lines; all inside the network's address space."
)


class AssetGroupForm(forms.Form):
    """Create and edit. On edit the network is shown but cannot be changed."""

    title = forms.CharField(max_length=128)
    network = forms.ModelChoiceField(queryset=Network.objects.none(), empty_label=None)
    ips = forms.CharField(
        label="IPs", widget=forms.Textarea(attrs={"rows": 4}), required=False, help_text=IPS_HELP
    )
    domains = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Domain names (example.com, *.example.com), one per line or comma separated.",
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, user, group: AssetGroup | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        network = self.fields["network"]
        network.queryset = networks_visible(user=user).order_by("kind", "name")
        if group is not None:
            # Fixed at creation: shown, never submitted (a disabled field keeps
            # its initial value whatever the browser posts).
            network.disabled = True
            network.initial = group.network
            network.help_text = "Fixed when the group was created."
        elif not settings.ENCLAVE_NETWORKS_ENABLED:
            network.disabled = True
            network.initial = network.queryset.first()
            network.widget = forms.HiddenInput()
        else:
            network.help_text = "Chosen now and fixed afterwards."


class TagForm(forms.Form):
    name = forms.CharField(max_length=64)


class HostIdsField(forms.Field):
    """Host ids ticked in a table (any number, any networks)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        try:
            return sorted({int(v) for v in value})
        except (TypeError, ValueError):
            raise forms.ValidationError("Host ids are numbers.") from None

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError("Select at least one host.")


class HostTagForm(forms.Form):
    """Assign or remove one tag on the hosts ticked in a host table."""

    tag = forms.ModelChoiceField(queryset=Tag.objects.order_by("name"))
    hosts = HostIdsField()
    action = forms.ChoiceField(choices=[("assign", "Assign"), ("remove", "Remove")])
    next = forms.CharField(required=False)
