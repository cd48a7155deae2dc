"""Shared REST API pieces (API.md): pagination, the one error shape, and the
schema's record of the errors every operation may answer."""

from collections.abc import Mapping
from functools import partial

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import EmptyPage, Page, PageNotAnInteger
from django.core.paginator import Paginator as DjangoPaginator
from django.http import QueryDict
from rest_framework import relations, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler

from core.digits import ascii_digits
from core.iprange import IPRangeError

# A detail route takes any one path segment as its id: one that is not an id
# (``abc``, ``1.5``, a number past 64 bits) then answers the API's JSON 404 from
# get_object(), instead of missing the route and getting Django's HTML page.
LOOKUP_ANY = r"[^/]+"


def _whole_number(request, name: str) -> int | None:
    """The query parameter ``name`` as a number from 1 up, None when absent; else
    a 400 naming it (DRF would quietly use its default, or answer 404)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not ascii_digits(raw) or int(raw) < 1:
        raise ValidationError({name: [f"{raw!r} is not a whole number from 1 up."]})
    return int(raw)


class KnownCountPaginator(DjangoPaginator):
    """A paginator told its count (kept counters) instead of counting. A page is
    read one row past its end, so whether another follows never depends on the
    counter: one that drifted shows a wrong total, never hides or invents rows."""

    def __init__(self, *args, count: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.known = count

    @property
    def count(self) -> int:
        return self.known

    def validate_number(self, number):
        if isinstance(number, float) and not number.is_integer():
            raise PageNotAnInteger("That page number is not an integer")
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger("That page number is not an integer") from None
        if number < 1:
            raise EmptyPage("That page number is less than 1")
        return number

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows and number > 1:
            raise EmptyPage("That page contains no results")
        page = Page(rows[: self.per_page], number, self)
        page.has_next = lambda: len(rows) > self.per_page
        return page


class Pagination(PageNumberPagination):
    """API.md's pages. A view may offer ``known_count()``: the number of rows when
    it knows it without counting (kept counters), or None to count."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    last_page_strings = ()

    def paginate_queryset(self, queryset, request, view=None):
        known = getattr(view, "known_count", None)
        count = known() if known is not None else None
        self.django_paginator_class = (
            DjangoPaginator if count is None else partial(KnownCountPaginator, count=count)
        )
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        size = _whole_number(request, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def get_page_number(self, request, paginator):
        return _whole_number(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view):
        page, size = super().get_schema_operation_parameters(view)
        page["schema"]["minimum"] = size["schema"]["minimum"] = 1
        page["description"] = "A page number from 1; a page past the last answers 404."
        size["description"] = (
            f"Rows per page, {self.page_size} unless given; more than "
            f"{self.max_page_size} gives {self.max_page_size}."
        )
        return [page, size]


# --- JSON bodies are typed ------------------------------------------------------------------

_NAMES = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}
_NAMES.update({list: "a list", dict: "an object"})


def _json_type(field) -> type | None:
    """The JSON type a field takes (what the schema says), None when any will do."""
    if isinstance(field, serializers.BooleanField):
        return bool
    if isinstance(field, serializers.IntegerField | relations.PrimaryKeyRelatedField):
        return int
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        return float
    if isinstance(field, serializers.ListField | relations.ManyRelatedField):
        return list
    if isinstance(field, serializers.ChoiceField):
        kinds = {type(key) for key in field.choices}
        return kinds.pop() if len(kinds) == 1 and kinds <= {str, int} else None
    if isinstance(field, serializers.CharField | serializers.DateTimeField):
        return str
    return None


def _type_problems(field, value, where: str = "") -> list[str]:
    if value is None:  # the field's own allow_null decides
        return []
    expected = _json_type(field)
    if expected is None:
        return []
    if expected is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool)
    elif expected is int:
        fits = isinstance(value, int) and not isinstance(value, bool)
    else:
        fits = isinstance(value, expected)
    if not fits:
        got = next((name for kind, name in _NAMES.items() if isinstance(value, kind)), None)
        got = "true or false" if isinstance(value, bool) else got or type(value).__name__
        prefix = f"{where}: " if where else ""
        return [f"{prefix}Give {_NAMES[expected]}, not {got}."]
    if expected is list:
        child = getattr(field, "child", None) or getattr(field, "child_relation", None)
        return [m for i, item in enumerate(value) for m in _type_problems(child, item, f"[{i}]")]
    return []


class TypedJSONMixin:
    """A serializer whose JSON body must hold the types its schema gives: "5" is
    not a number, 5 is not a string, 1 is not true, {} is not a list. DRF would
    convert them quietly. Form bodies (browsable API, tests) are text by nature,
    so they are read as DRF reads them."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):
            errors = {
                name: problems
                for name, field in self.fields.items()
                if not field.read_only
                and name in data
                and (problems := _type_problems(field, data[name]))
            }
            if errors:
                raise ValidationError(errors)
        return super().to_internal_value(data)


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


def _messages(detail, where: str = "") -> list[str]:
    """DRF's nested error details (a list field's item, a nested object's field)
    as flat messages, each saying where it applies: ``"[2]: Not a number."``."""
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in _messages(value, f"{where}[{key}]")]
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [f"{where}: {item}" if where else str(item) for item in detail]
        return [
            m for index, item in enumerate(detail) for m in _messages(item, f"{where}[{index}]")
        ]
    return [f"{where}: {detail}" if where else str(detail)]


def field_errors(data) -> dict[str, list[str]]:
    """Any 400 body DRF makes, in the one shape of API.md: ``{"field": ["message"]}``.
    A body that could not be parsed, or an error of no field, is ``non_field_errors``."""
    if isinstance(data, dict) and set(data) != {"detail"}:
        return {str(field): _messages(detail) for field, detail in data.items()}
    if isinstance(data, dict):
        data = data["detail"]
    return {"non_field_errors": _messages(data)}


def exception_handler(exc, context):
    """DRF's handler, plus: a service's ValidationError (or an address it could
    not parse) answers 400 with the field errors, so viewsets just call services;
    and every 400 has the one shape, whatever raised it."""
    if isinstance(exc, DjangoValidationError | IPRangeError):
        exc = ValidationError(api_errors(exc))
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == 400:
        response.data = field_errors(response.data)
    return response


# --- The schema: errors documented once -----------------------------------------------------


class DetailSerializer(serializers.Serializer):
    """The body of the errors that are no field's: 401, 403, 404, 429."""

    detail = serializers.CharField()


FIELD_ERRORS = {
    "type": "object",
    "description": 'Each refused field with its messages; "non_field_errors" for the rest.',
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"address_space": ["'10.0.0.300' is not an IP address"]},
}
DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
ERROR_RESPONSES = {
    "400": ("FieldErrors", "Refused input: the fields and what is wrong with each."),
    "401": ("Detail", "No credentials, or a token that is not valid."),
    "403": ("Detail", "The caller's role may not do this."),
    "404": (
        "Detail",
        "No such object for the caller (absent, or in a network outside their grant), "
        "or a page past the last.",
    ),
    "415": ("Detail", "A body of a media type the operation does not take."),
    "429": ("Detail", "Too many failed sign-ins: locked for a while (see Retry-After)."),
}


def _answers(method: str, operation: dict) -> list[str]:
    """The error statuses an operation may answer, from what it takes."""
    parameters = operation.get("parameters", [])
    codes = []
    takes_input = method != "get" or any(p["in"] == "query" for p in parameters)
    if takes_input:
        codes.append("400")
    if any(requirement for requirement in operation.get("security", [])):
        codes += ["401", "403"]
        if any(p["in"] == "path" or p["name"] == "page" for p in parameters):
            codes.append("404")
    if "requestBody" in operation:
        codes.append("415")
    return codes


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: each operation lists the error answers
    it may give (400 with the field errors, 401, 403, 404, 415), each described once
    under components; a query parameter given empty is one not given; a body
    that may be JSON is documented as JSON only (uploads stay multipart)."""
    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.setdefault("FieldErrors", FIELD_ERRORS)
    schemas.setdefault("Detail", DETAIL)
    responses = components.setdefault("responses", {})
    for code, (name, description) in ERROR_RESPONSES.items():
        responses[f"Error{code}"] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    # As from an HTML form: "?network=&page=" filters on nothing.
                    parameter["allowEmptyValue"] = True
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                # Bodies are JSON (API.md); the form parsers serve the browsable API.
                for form in ("application/x-www-form-urlencoded", "multipart/form-data"):
                    content.pop(form, None)
            answers = operation.setdefault("responses", {})
            for code in _answers(method, operation):
                answers.setdefault(code, {"$ref": f"#/components/responses/Error{code}"})
    return result
