"""The connector form: one page for both kinds, each kind's fields in its own
fieldset; credentials are write-only (never rendered back)."""

from django import forms

from networks.models import Network, NetworkKind

from .models import ConnectorKind, ConnectorSchedule

KEEP = "Stored. Leave blank to keep it; anything typed replaces it."
SECRET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
NO_FILL = {"autocomplete": "off"}

AWS_FIELDS = ("access_key_id", "secret_access_key", "role_arn", "regions", "endpoint_url")
AZURE_FIELDS = (
    "tenant_id",
    "client_id",
    "client_secret",
    "subscriptions",
    "authority_host",
    "resource_manager_url",
)


class ConnectorForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=ConnectorKind.choices)
    schedule = forms.ChoiceField(choices=ConnectorSchedule.choices, initial=ConnectorSchedule.DAILY)
    # AWS EC2
    access_key_id = forms.CharField(
        label="Access key id", required=False, widget=forms.TextInput(attrs=NO_FILL)
    )
    secret_access_key = forms.CharField(label="Secret access key", required=False, widget=SECRET)
    role_arn = forms.CharField(
        label="Role ARN",
        required=False,
        widget=forms.TextInput(attrs=NO_FILL),
        help_text="Optional: a role the key assumes (arn:aws:iam::123456789012:role/name).",
    )
    regions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="AWS regions, comma or newline separated (eu-west-1, us-east-1).",
    )
    endpoint_url = forms.CharField(
        label="Endpoint URL",
        required=False,
        help_text="Optional: another AWS-compatible endpoint; empty for AWS itself.",
    )
    # Azure
    tenant_id = forms.CharField(
        label="Tenant id", required=False, widget=forms.TextInput(attrs=NO_FILL)
    )
    client_id = forms.CharField(
        label="Client id", required=False, widget=forms.TextInput(attrs=NO_FILL)
    )
    client_secret = forms.CharField(label="Client secret", required=False, widget=SECRET)
    subscriptions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Subscription ids, comma or newline separated.",
    )
    authority_host = forms.CharField(
        label="Authority host",
        required=False,
        help_text="Optional, for sovereign clouds and Azure Stack "
        "(https://login.microsoftonline.us); empty for Microsoft Entra ID.",
    )
    resource_manager_url = forms.CharField(
        label="Resource Manager URL",
        required=False,
        help_text="Optional, for sovereign clouds (https://management.usgovcloudapi.net); "
        "empty for https://management.azure.com.",
    )

    def __init__(self, *args, connector=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.connector = connector
        if connector is not None:
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = "Fixed when the connector was created."
            for name in (
                "access_key_id",
                "secret_access_key",
                "tenant_id",
                "client_id",
                "client_secret",
            ):
                self.fields[name].help_text = KEEP
            self.fields[
                "role_arn"
            ].help_text = "Stored if set. Leave blank to keep it; anything typed replaces it."

    def fieldset(self, names):
        return [self[name] for name in names]

    @property
    def fieldset_top(self):
        return self.fieldset(("name", "kind", "schedule"))

    @property
    def aws_fields(self):
        return self.fieldset(AWS_FIELDS)

    @property
    def azure_fields(self):
        return self.fieldset(AZURE_FIELDS)

    def service_arguments(self) -> dict:
        """What connector_create / connector_update take, for the form's kind."""
        data = self.cleaned_data
        kind = self.connector.kind if self.connector is not None else data["kind"]
        if kind == ConnectorKind.AWS_EC2:
            credentials = {f: data[f] for f in ("access_key_id", "secret_access_key", "role_arn")}
            scopes, urls = data["regions"], {"endpoint_url": data["endpoint_url"]}
        else:
            credentials = {f: data[f] for f in ("tenant_id", "client_id", "client_secret")}
            scopes = data["subscriptions"]
            urls = {f: data[f] for f in ("authority_host", "resource_manager_url")}
        if self.connector is not None:
            # Blank keeps what is stored (the form never shows it back).
            credentials = {k: v for k, v in credentials.items() if v.strip()}
        return {
            "name": data["name"],
            "kind": kind,
            "schedule": data["schedule"],
            "credentials": credentials,
            "scopes": scopes,
            **urls,
        }


class MappingForm(forms.Form):
    vpc = forms.CharField(label="VPC / VNet id", required=False, max_length=400)
    network = forms.ModelChoiceField(
        queryset=Network.objects.filter(kind=NetworkKind.CUSTOM).order_by("name"),
        required=False,
        empty_label="—",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["network"].queryset = Network.objects.filter(kind=NetworkKind.CUSTOM).order_by(
            "name"
        )


MappingFormSet = forms.formset_factory(MappingForm, extra=2, max_num=500)


def mapping_rows(formset) -> list[dict]:
    """The formset's filled rows, as the service takes them (a half-filled row
    goes through, so the service names what it lacks)."""
    rows = []
    for form in formset.forms:
        data = form.cleaned_data if form.is_valid() else {}
        if data.get("vpc") or data.get("network"):
            rows.append({"vpc": data.get("vpc", ""), "network": data.get("network")})
    return rows
