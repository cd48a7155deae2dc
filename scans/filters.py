import django_filters

from console.filters import IdFilter
from console.widgets import FastSelect
from networks.api import visible_networks_for

from .models import (
    DetectionStatus,
    ImportFormat,
    KbSource,
    Scan,
    ScanStatus,
    ScanType,
    Severity,
    Vulnerability,
)
from .selectors import detections_filter_ip


class ScanFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains", label="Title")
    status = django_filters.ChoiceFilter(choices=ScanStatus.choices, widget=FastSelect)
    type = django_filters.ChoiceFilter(choices=ScanType.choices, widget=FastSelect)
    network = django_filters.ModelChoiceFilter(queryset=visible_networks_for, widget=FastSelect)

    class Meta:
        model = Scan
        fields = ["q", "status", "type", "network"]


class ImportFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        field_name="import_file__filename", lookup_expr="icontains", label="File"
    )
    # Not "format": DRF reads ?format= as the answer's format (json, api).
    file_format = django_filters.ChoiceFilter(
        field_name="import_file__format",
        choices=ImportFormat.choices,
        widget=FastSelect,
        label="Format",
    )
    status = django_filters.ChoiceFilter(choices=ScanStatus.choices, widget=FastSelect)
    network = django_filters.ModelChoiceFilter(queryset=visible_networks_for, widget=FastSelect)

    class Meta:
        model = Scan
        fields = ["q", "file_format", "status", "network"]


class VulnerabilityFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    cve = django_filters.CharFilter(method="filter_cve", label="CVE")
    source = django_filters.ChoiceFilter(choices=KbSource.choices, empty_label="Any source")

    class Meta:
        model = Vulnerability
        fields = ["q", "severity", "cve", "source"]

    def filter_q(self, queryset, name, value):
        from .selectors import kb_search

        return queryset & kb_search(q=value)

    def filter_cve(self, queryset, name, value):
        # JSON lists: a text match on the CVE id works on SQLite and PostgreSQL.
        return queryset.filter(cves__icontains=f'"{value.strip().upper()}"')


class DetectionFilterSet(django_filters.FilterSet):
    network = IdFilter(field_name="network_id")
    host = IdFilter(field_name="host_id")
    ip = django_filters.CharFilter(method="filter_ip", label="IP, range or block")
    qid = IdFilter(field_name="vulnerability_id")
    status = django_filters.ChoiceFilter(choices=DetectionStatus.choices)
    severity = django_filters.TypedChoiceFilter(choices=Severity.choices, coerce=int)
    source = django_filters.ChoiceFilter(
        field_name="vulnerability__source", choices=KbSource.choices, label="Source"
    )

    def filter_ip(self, queryset, name, value):
        return detections_filter_ip(queryset, value)
