"""Host filters for the Host Assets table, asset group hosts and the API.

``ip`` and ``range`` parse with the project's IP-range module; a bad value
is a form error naming the token, and the list shows nothing (never a 500).
"""

import contextlib

import django_filters
from django import forms
from django.db.models import Q, Value
from django.db.models.functions import StrIndex, Upper

from console.widgets import FastSelect
from core import iprange
from networks.api import visible_networks_for

from .models import Host, Tag
from .selectors import ip_ranges_q


def _form_error(error: iprange.IPRangeError) -> forms.ValidationError:
    """The library's messages quote what the user typed, which may hold a "%":
    each goes in as a parameter, never as the format string (django-filter and
    Django format messages with their params)."""
    return forms.ValidationError(
        [forms.ValidationError("%(message)s", params={"message": m}) for m in error.messages]
    )


class IPAddressField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value:
            try:
                iprange.parse_address(value)
            except iprange.IPRangeError as error:
                raise _form_error(error) from None
        return value


class IPRangesField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value:
            try:
                return iprange.parse(value)
            except iprange.IPRangeError as error:
                raise _form_error(error) from None
        return value


class IPAddressFilter(django_filters.CharFilter):
    field_class = IPAddressField


class IPRangesFilter(django_filters.CharFilter):
    field_class = IPRangesField


def contains(queryset, fields: tuple[str, ...], value: str):
    """Rows where any of ``fields`` contains ``value``, ignoring case.

    Written as ``strpos(upper(field), VALUE) > 0`` rather than ``icontains``
    (``LIKE '%VALUE%'``): PostgreSQL guesses a LIKE matches almost nothing,
    so it sorts the whole network instead of reading it in IP order and
    stopping at a page (40 ms against 1 ms at 20,000 hosts a network).
    """
    aliases = {f"_at_{field}": StrIndex(Upper(field), Value(value.upper())) for field in fields}
    query = Q()
    for alias in aliases:
        query |= Q(**{f"{alias}__gt": 0})
    return queryset.alias(**aliases).filter(query)


class HostFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    ip = IPAddressFilter(method="filter_ip", label="IP")
    range = IPRangesFilter(
        method="filter_range", label="IP range", help_text="10.0.0.0/24, 10.0.0.1-10.0.0.9"
    )
    dns = django_filters.CharFilter(method="filter_contains", label="DNS")
    os = django_filters.CharFilter(method="filter_contains", label="OS")
    tag = django_filters.ModelChoiceFilter(
        queryset=Tag.objects.order_by("name"), field_name="tags", label="Tag", widget=FastSelect
    )

    class Meta:
        model = Host
        fields = ["q", "ip", "range", "dns", "os", "tag"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        with contextlib.suppress(iprange.IPRangeError):
            # An address: that host (indexed), not a substring search.
            return queryset.filter(ip_key=iprange.ip_key(value))
        return contains(queryset, ("ip", "dns", "netbios", "os"), value)

    def filter_contains(self, queryset, name, value):
        value = value.strip()
        return contains(queryset, (name,), value) if value else queryset

    def filter_ip(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(ip_key=iprange.ip_key(value))

    def filter_range(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(ip_ranges_q(value))


class HostAPIFilterSet(HostFilterSet):
    """The API's host filters: the page's, plus the network (hosts/ spans networks)."""

    network = django_filters.ModelChoiceFilter(queryset=visible_networks_for)

    class Meta(HostFilterSet.Meta):
        fields = ["network", *HostFilterSet.Meta.fields]
