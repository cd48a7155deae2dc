"""The API's one error shape: services raise Django's ValidationError (or the
address library's IPRangeError) and every viewset answers 400 with field errors."""

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from console.api import exception_handler
from console.htmx import htmx_partial
from core.iprange import IPRangeError, parse


def test_field_errors_become_a_400_by_field():
    response = exception_handler(
        ValidationError({"targets": ["'10.0.0.300' is not an IP address"], "title": "Needed."}),
        context={},
    )
    assert response.status_code == 400
    assert response.data == {
        "targets": ["'10.0.0.300' is not an IP address"],
        "title": ["Needed."],
    }


def test_an_error_without_a_field_is_non_field_errors():
    response = exception_handler(ValidationError("Scan 's' has already ended."), context={})
    assert (response.status_code, response.data) == (
        400,
        {"non_field_errors": ["Scan 's' has already ended."]},
    )


def test_an_address_a_service_could_not_parse_is_a_400_naming_it():
    with pytest.raises(IPRangeError) as caught:
        parse("10.0.0.1, 10.0.0.300")
    response = exception_handler(caught.value, context={})
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["'10.0.0.300' is not an IP address"]}


def test_other_exceptions_are_left_to_drf():
    assert exception_handler(RuntimeError("boom"), context={}) is None


@pytest.mark.parametrize(
    "headers, partial",
    [
        ({}, False),  # a page load
        ({"HTTP_HX_REQUEST": "true"}, True),  # htmx swaps a part
        ({"HTTP_HX_REQUEST": "true", "HTTP_HX_BOOSTED": "true"}, False),  # a boosted page load
    ],
)
def test_htmx_partial(headers, partial):
    request = RequestFactory().get("/", **headers)
    request.htmx = HtmxDetails(request)
    assert htmx_partial(request) is partial
