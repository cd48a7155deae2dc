"""The Vulnerabilities list's filters: one form for the page, the CSV export
and the API, so each refuses a bad value the same way."""

from django import forms

from assets.models import Tag
from console.filters import MAX_ID
from console.severity import SEVERITIES, severity_name
from console.widgets import FastSelect
from networks.models import Network
from networks.selectors import networks_visible
from scans.models import KbSource, VulnerabilityKind

from .vulnerabilities import OPEN, SORTS, Criteria

STATUS_CHOICES = [
    ("open", "Open (New, Active, Re-Opened)"),
    ("new", "New"),
    ("active", "Active"),
    ("reopened", "Re-Opened"),
    ("fixed", "Fixed"),
    ("any", "Any status"),
]
# Each order the list offers, in words: (descending, ascending).
SORT_WORDS = {
    "severity": ("Severity, worst first", "Severity, lowest first"),
    "last_found": ("Last found, newest first", "Last found, oldest first"),
    "first_found": ("First found, newest first", "First found, oldest first"),
    "qid": ("QID, highest first", "QID, lowest first"),
    "fixed_at": ("Fixed, newest first", "Fixed, oldest first"),
}
SORT_CHOICES = [
    (f"{direction}{key}", SORT_WORDS[key][i])
    for key in SORTS
    for i, direction in enumerate(("-", ""))
]
# Worst first, as the tables show them, with the badges' words ("5 Urgent").
SEVERITY_CHOICES = [(s, severity_name(s)) for s in SEVERITIES]


class VulnerabilityFilterForm(forms.Form):
    network = forms.ModelChoiceField(
        queryset=Network.objects.none(),
        required=False,
        empty_label="All networks",
        widget=FastSelect,
    )
    severity = forms.TypedMultipleChoiceField(
        choices=SEVERITY_CHOICES, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, initial="open")
    kind = forms.ChoiceField(choices=[("", "Any kind"), *VulnerabilityKind.choices], required=False)
    source = forms.ChoiceField(choices=[("", "Any source"), *KbSource.choices], required=False)
    qid = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False, label="QID")
    cve = forms.RegexField(
        regex=r"^(?i:CVE-\d{4}-\d{4,})$",
        required=False,
        label="CVE",
        error_messages={"invalid": "A CVE id looks like CVE-2024-6387."},
    )
    port = forms.IntegerField(min_value=0, max_value=65535, required=False)
    known_exploited = forms.BooleanField(
        required=False, label="Known exploited only", help_text="In CISA's KEV catalog."
    )
    epss_min = forms.FloatField(
        min_value=0,
        max_value=1,
        required=False,
        label="EPSS ≥",
        help_text="Exploit prediction score, 0 to 1 (0.1 = 10 % chance in 30 days).",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
    )
    tag = forms.ModelChoiceField(
        queryset=Tag.objects.order_by("name"), required=False, widget=FastSelect
    )
    q = forms.CharField(required=False, max_length=200, label="Text")
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)
    after = forms.CharField(required=False, widget=forms.HiddenInput, max_length=400)

    # What a checkbox sends ("on") and what the API documents (true/false, 1/0);
    # BooleanField alone would read any other word as "yes".
    BOOLEAN_WORDS = {"": False, "on": True, "true": True, "1": True, "false": False, "0": False}

    def clean_known_exploited(self) -> bool:
        raw = str(self.data.get("known_exploited", "")).strip().lower()
        if raw not in self.BOOLEAN_WORDS:
            raise forms.ValidationError(f"'{raw[:20]}' is not true or false.", code="invalid")
        return self.BOOLEAN_WORDS[raw]

    def clean(self):
        data = super().clean()
        if (data.get("sort") or "").lstrip("-") == "fixed_at" and data.get("status") != "fixed":
            self.add_error(
                "sort", "Sorting by fix date lists Fixed findings: choose the Fixed status."
            )
        return data

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["network"].queryset = networks_visible(user=user).order_by("kind", "name")

    def criteria(self) -> Criteria:
        data = self.cleaned_data
        status = data.get("status") or "open"
        statuses = OPEN if status == "open" else [] if status == "any" else [status]
        networks = (
            [data["network"]] if data.get("network") else list(networks_visible(user=self.user))
        )
        return Criteria(
            networks=networks,
            severities=data.get("severity") or [],
            statuses=statuses,
            kind=data.get("kind") or "",
            qid=data.get("qid"),
            cve=(data.get("cve") or "").upper(),
            port=data.get("port"),
            tag=data["tag"].pk if data.get("tag") else None,
            q=(data.get("q") or "").strip(),
            source=data.get("source") or "",
            known_exploited=bool(data.get("known_exploited")),
            epss_min=data.get("epss_min"),
        )
