from django import forms
from django.db.models.functions import Lower

from .models import Network, ScannerAppliance, validate_appliance_name


class NetworkForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    address_space = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="IPv4 or IPv6 addresses, ranges (10.0.0.1-10.0.0.50) and CIDR blocks "
        "(10.0.0.0/16), separated by commas or new lines. May overlap other networks.",
    )
    appliances = forms.ModelMultipleChoiceField(
        queryset=ScannerAppliance.objects.select_related("network"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Assigning an appliance moves it here from its current network.",
    )

    def __init__(self, *args, network: Network | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["appliances"].label_from_instance = lambda a: f"{a.name} (now in {a.network})"
        if network is not None and network.is_built_in:
            self.fields["name"].disabled = True
            self.fields["name"].help_text = "Built-in networks cannot be renamed."
            del self.fields["address_space"]


class ScannerApplianceForm(forms.Form):
    name = forms.CharField(
        max_length=64,
        validators=[validate_appliance_name],
        help_text="Letters, digits, - and _; names its queue.",
    )
    network = forms.ModelChoiceField(queryset=Network.objects.all())
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class NetworkAccessForm(forms.Form):
    """A Scanner's or Reader's networks: every one, or those ticked."""

    scope = forms.ChoiceField(
        choices=[("all", "All networks"), ("chosen", "Only the networks ticked below")],
        widget=forms.RadioSelect,
        label="Sees",
    )
    networks = forms.ModelMultipleChoiceField(
        queryset=Network.objects.order_by("kind", Lower("name")),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Built-in networks too. Outside these, the user's pages and API answer as if "
        "nothing existed; their schedules in a network taken away stop, saying why.",
    )

    def networks_chosen(self) -> list[Network] | None:
        """None for every network, else the networks ticked (maybe none)."""
        if self.cleaned_data["scope"] == "all":
            return None
        return list(self.cleaned_data["networks"])
