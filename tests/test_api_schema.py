"""The OpenAPI schema says what the API does (issue #10, point 10).

Schemathesis generates requests for every operation of the schema, valid ones
and invalid ones (wrong types, out-of-range numbers, missing fields, unknown
ids), sends them to the Django app in this process (WSGI) as a Manager, and
checks each answer: no server error; the status code, the content type and
the body are the ones the schema documents; invalid input is refused; a call
without the token is refused.

It is bounded: a few examples per operation (``SCHEMA_EXAMPLES``, 5 unless
set; raise it to search harder), no shrinking. Each operation runs against a
database holding one object of each kind, and half the generated ids are those
objects' ids, so detail routes answer 200 as well as 404.

No operation is left out. Nothing leaves the process: the test database is
rolled back, so no on-commit task is ever sent (a launched scan's slices, a
report's build, a cancel's revoke), and this process's Celery app points at a
private broker folder that the test proves stays empty.
"""

import os
import re
from datetime import timedelta

import pytest
import schemathesis
from django.core.files.base import ContentFile
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.settings import spectacular_settings
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.models import Role
from assets.models import Tag
from reports.models import Report, ReportStatus
from scans.models import OptionProfile, Scan, Schedule
from tests.brokers import celery_broker
from tests.factories import (
    ApplianceFactory,
    AssetGroupFactory,
    DetectionFactory,
    HostFactory,
    NetworkFactory,
    UserFactory,
)


def generated_schema() -> bytes:
    """The schema as /api/v1/schema/ serves it, made by the same generator."""
    generator = spectacular_settings.DEFAULT_GENERATOR_CLASS()
    return OpenApiJsonRenderer().render(generator.get_schema(request=None, public=True))


schema = schemathesis.openapi.from_dict(__import__("json").loads(generated_schema()))
schema.app = WSGIHandler()

# Path prefix -> the id of that kind's object in the test database (see world).
IDS: dict[str, int] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the time, the id of an object that exists instead of a generated one."""
    prefix = re.match(r"/api/v1/([a-z-]+)/\{", context.operation.path)
    if not prefix or prefix.group(1) not in IDS or len(path_parameters) != 1:
        return st.just(path_parameters)
    (name,) = path_parameters
    return st.sampled_from([path_parameters, {name: IDS[prefix.group(1)]}])


@pytest.fixture
def world(db):
    """One object of each kind, and a Manager's token."""
    manager = UserFactory(username="manager", role=Role.MANAGER)
    network = NetworkFactory(name="Acme", space="10.0.0.0/16")
    profile = OptionProfile.objects.filter(is_default=True).first()
    host = HostFactory(network=network, ip="10.0.0.5")
    detection = DetectionFactory(host=host)
    IDS.update(
        {
            "users": UserFactory(username="reader-user", role=Role.READER).pk,
            "networks": network.pk,
            "appliances": ApplianceFactory(network=network).pk,
            "hosts": host.pk,
            "asset-groups": AssetGroupFactory(network=network).pk,
            "tags": Tag.objects.create(name="dmz").pk,
            "scans": Scan.objects.create(
                title="s", type="discovery", network=network, targets="10.0.0.5"
            ).pk,
            "option-profiles": profile.pk,
            "schedules": Schedule.objects.create(
                title="nightly",
                type="discovery",
                network=network,
                targets="10.0.0.5",
                option_profile=profile,
                recurrence="daily",
                start=timezone.now(),
                next_run=timezone.now() + timedelta(days=1),
            ).pk,
            "detections": detection.pk,
            "kb": detection.vulnerability_id,
            "reports": Report.objects.create(
                title="r",
                owner=manager,
                format="csv",
                status=ReportStatus.FINISHED,
                file=ContentFile(b"ip,network\n", name="r.csv"),
            ).pk,
        }
    )
    token, _ = Token.objects.get_or_create(user=manager)
    yield {"Authorization": f"Token {token.key}"}
    IDS.clear()


@pytest.fixture
def in_process(world, tmp_path):
    """Requests share the test's database connection (as Django's test client
    arranges: the handler would close it after each request), and tasks go to a
    private broker folder that must stay empty."""
    folder = tmp_path / "broker"
    for sub in ("in", "processed", "control"):
        (folder / sub).mkdir(parents=True)
    options = {
        "data_folder_in": str(folder / "in"),
        "data_folder_out": str(folder / "in"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
    }
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with celery_broker("filesystem://", options):
            yield world
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert not [p for p in folder.rglob("*") if p.is_file()], "a task left the process"


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("SCHEMA_EXAMPLES", "5")),
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_as_its_schema_says(case, in_process):
    # Every built-in check but positive_data_acceptance: a schema cannot say that
    # a name is taken or an address lies outside a network, so a request valid by
    # the schema may rightly be refused (400, with the field named).
    case.call_and_validate(headers=in_process, excluded_checks=[positive_data_acceptance])


def test_the_schema_tested_is_the_one_served(api_as):
    served = api_as(Role.MANAGER).get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert served.status_code == 200
    assert served.content == generated_schema()


# --- What the run above found, one behaviour each -------------------------------------------


@pytest.mark.django_db
def test_the_overlaps_list_is_paginated_like_every_list(api_as):
    body = api_as(Role.READER).get("/api/v1/networks/overlaps/").json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["abc", "1.5", "99999999999999999999", "-1"])
def test_an_id_that_names_nothing_is_the_apis_404(api_as, value):
    for prefix in ("hosts", "networks", "kb", "reports", "scans"):
        response = api_as(Role.MANAGER).get(f"/api/v1/{prefix}/{value}/")
        assert response.status_code == 404, prefix
        assert response["Content-Type"] == "application/json", prefix


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, field",
    [("page_size=abc", "page_size"), ("page_size=0", "page_size"), ("page=-2", "page")],
)
def test_paging_refuses_what_is_not_a_page(api_as, query, field):
    response = api_as(Role.READER).get(f"/api/v1/tags/?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.django_db
def test_paging_past_the_last_page_is_404_and_an_empty_value_is_no_value(api_as):
    api = api_as(Role.READER)
    assert api.get("/api/v1/tags/?page=2").status_code == 404
    assert api.get("/api/v1/tags/?page=&page_size=").json()["count"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, errors",
    [
        ({"name": 5}, {"name": ["Give a string, not a whole number."]}),
        ({"name": "dmz", "hosts": {}}, {"hosts": ["Give a list, not an object."]}),
        ({"name": "dmz", "hosts": ["5"]}, {"hosts": ["[0]: Give a whole number, not a string."]}),
        (
            {"name": "dmz", "hosts": [True]},
            {"hosts": ["[0]: Give a whole number, not true or false."]},
        ),
    ],
)
def test_a_json_body_holds_the_types_the_schema_gives(api_as, body, errors):
    response = api_as(Role.SCANNER).post("/api/v1/tags/", body, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert not Tag.objects.exists()


@pytest.mark.django_db
def test_a_form_body_is_read_as_text_still(api_as):
    response = api_as(Role.SCANNER).post("/api/v1/tags/", {"name": "dmz"})
    assert response.status_code == 201


@pytest.mark.django_db
def test_every_400_has_the_field_shape(api_as):
    api = api_as(Role.SCANNER)
    broken = api.post("/api/v1/tags/", "{not json", content_type="application/json")
    assert broken.status_code == 400
    assert list(broken.json()) == ["non_field_errors"]
    assert "JSON parse error" in broken.json()["non_field_errors"][0]
    nested = api.post("/api/v1/tags/", {"name": "dmz", "hosts": [0]}, format="json")
    assert nested.status_code == 400
    assert nested.json() == {"hosts": ["[0]: Ensure this value is greater than or equal to 1."]}


@pytest.mark.django_db
def test_a_report_names_its_network_by_id_or_all(api_as):
    api = api_as(Role.READER)
    for network in ("3", "lan", True):
        body = {"title": "x", "targets": "10.0.0.1", "network": network}
        response = api.post("/api/v1/reports/", body, format="json")
        assert response.status_code == 400
        assert response.json() == {"network": ['Give a network id (a number) or "all".']}
    assert not Report.objects.exists()
