"""FastSelect writes the markup Django's Select writes, without a template per option."""

import pytest
from django import forms
from django.test.html import parse_html

from console.widgets import FastSelect

pytestmark = pytest.mark.django_db


def same(html: str):
    """The document, as Django's assertHTMLEqual compares them (attribute order aside)."""
    return parse_html(html)


@pytest.mark.parametrize(
    "choices, value",
    [
        ([("", "All networks"), (1, "Acme"), (2, 'Globex <"&">')], 2),
        ([("", "Any"), ("a", "A")], None),
        ([("Group <1>", [(1, "one"), (2, "two")]), (3, "three")], 1),
    ],
)
def test_the_same_markup_as_djangos_select(choices, value):
    attrs = {"id": "id_network", "required": True, "onchange": "this.form.requestSubmit()"}
    django = forms.Select(choices=choices).render("network", value, attrs=attrs)
    fast = FastSelect(choices=choices).render("network", value, attrs=attrs)
    assert same(fast) == same(django)
    assert "&lt;&quot;&amp;&quot;&gt;" in fast or "Globex" not in fast  # labels escaped


def test_a_model_choice_field_selects_the_chosen_row():
    from tests.factories import NetworkFactory

    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    NetworkFactory(name="Globex", space="10.1.0.0/16")

    class Form(forms.Form):
        network = forms.ModelChoiceField(
            queryset=type(acme).objects.filter(name__in=["Acme", "Globex"]).order_by("name"),
            required=False,
            widget=FastSelect,
        )

    html = str(Form({"network": str(acme.pk)})["network"])
    assert f'<option value="{acme.pk}" selected>Acme</option>' in html
    assert '<option value="" ' not in html and '<option value="">---------</option>' in html
