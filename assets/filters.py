"""Host filters for the Host Assets table, asset group hosts and the API.

``ip`` and ``range`` parse with the project's IP-range module; a bad value
is a form error naming the token, and the list shows nothing (never a 500).
"""

import contextlib

import django_filters
from django import forms
from django.db.models import Q

from networks import iprange
from networks.models import Network

from .models import Host, Tag
from .selectors import ranges_q


class IPAddressField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value:
            try:
                iprange.parse_address(value)
            except iprange.IPRangeError as error:
                raise forms.ValidationError(error.messages) from None
        return value


class IPRangesField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value:
            try:
                return iprange.parse(value)
            except iprange.IPRangeError as error:
                raise forms.ValidationError(error.messages) from None
        return value


class IPAddressFilter(django_filters.CharFilter):
    field_class = IPAddressField


class IPRangesFilter(django_filters.CharFilter):
    field_class = IPRangesField


class HostFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    ip = IPAddressFilter(method="filter_ip", label="IP")
    range = IPRangesFilter(
        method="filter_range", label="IP range", help_text="10.0.0.0/24, 10.0.0.1-10.0.0.9"
    )
    dns = django_filters.CharFilter(lookup_expr="icontains", label="DNS")
    os = django_filters.CharFilter(lookup_expr="icontains", label="OS")
    tag = django_filters.ModelChoiceFilter(
        queryset=Tag.objects.order_by("name"), field_name="tags", label="Tag"
    )

    class Meta:
        model = Host
        fields = ["q", "ip", "range", "dns", "os", "tag"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        query = Q(dns__icontains=value) | Q(netbios__icontains=value) | Q(os__icontains=value)
        with contextlib.suppress(iprange.IPRangeError):
            query |= Q(ip_key=iprange.ip_key(value))
        return queryset.filter(query)

    def filter_ip(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(ip_key=iprange.ip_key(value))

    def filter_range(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(ranges_q(value))


class HostAPIFilterSet(HostFilterSet):
    """The API's host filters: the page's, plus the network (hosts/ spans networks)."""

    network = django_filters.ModelChoiceFilter(queryset=Network.objects.all())

    class Meta(HostFilterSet.Meta):
        fields = ["network", *HostFilterSet.Meta.fields]
