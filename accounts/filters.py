"""The audit log's filters: who, what, when."""

import django_filters
from django import forms

from .models import AuditEntry


def _object_types(request=None):
    types = AuditEntry.objects.order_by().values_list("object_type", flat=True).distinct()
    return [(t, t.capitalize()) for t in sorted(types)]


class AuditEntryFilterSet(django_filters.FilterSet):
    who = django_filters.CharFilter(
        field_name="actor_name", lookup_expr="iexact", label="Who (username)"
    )
    action = django_filters.ChoiceFilter(choices=AuditEntry.Action.choices, label="What")
    object_type = django_filters.ChoiceFilter(choices=_object_types, label="Object")
    since = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    q = django_filters.CharFilter(
        field_name="object_repr", lookup_expr="icontains", label="Object name"
    )

    class Meta:
        model = AuditEntry
        fields = ["who", "action", "object_type", "since", "until", "q"]
