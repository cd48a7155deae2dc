"""Shared REST API pieces (API.md): pagination and the one error shape."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler

from core.iprange import IPRangeError


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


def api_errors(error: DjangoValidationError | IPRangeError) -> dict[str, list[str]]:
    """A service's refusal as the API's 400 body: ``{"field": ["message", ...]}``."""
    if isinstance(error, IPRangeError):
        return {"non_field_errors": list(error.messages)}
    if hasattr(error, "error_dict"):
        return {
            field: [message for e in errors for message in e.messages]
            for field, errors in error.error_dict.items()
        }
    return {"non_field_errors": list(error.messages)}


def exception_handler(exc, context):
    """DRF's handler, plus: a service's ValidationError (or an address it could
    not parse) answers 400 with the field errors, so viewsets just call services."""
    if isinstance(exc, DjangoValidationError | IPRangeError):
        exc = ValidationError(api_errors(exc))
    return drf_exception_handler(exc, context)
