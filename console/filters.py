"""Filters the apps share."""

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

# The largest id a 64-bit database column holds; past it a lookup is not "no
# match" to every backend (SQLite raises), so it is a bad value, said plainly.
MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """A row id or number: a whole number from 1 to 2**63-1, else a 400 naming it."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)
