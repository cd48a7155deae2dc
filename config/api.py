"""Shared REST API pieces: pagination per API.md."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


def raise_api_error(error: DjangoValidationError):
    """A service's ValidationError as DRF's 400 ``{"field": ["message", ...]}``."""
    if hasattr(error, "error_dict"):
        raise ValidationError(
            {
                field: [m for e in errors for m in e.messages]
                for field, errors in error.error_dict.items()
            }
        )
    raise ValidationError({"non_field_errors": error.messages})
