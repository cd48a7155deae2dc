"""Bad input gets a clear answer that names the problem, never a 500, and a
refused write leaves nothing behind (issue #10, points 2 and 4)."""

import pytest
from django.urls import reverse

from assets.models import Tag
from reports.models import Report, ReportStatus
from tests.factories import HostFactory, NetworkFactory

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"  # past 64 bits


@pytest.fixture
def host():
    return HostFactory(network=NetworkFactory(name="Acme", space="10.0.0.0/16"), ip="10.0.0.5")


@pytest.mark.parametrize(
    "url, field, words",
    [
        ("/api/v1/hosts/?ip=%25", "ip", "'%' is not an IP address"),
        ("/api/v1/hosts/?range=%25", "range", "'%' is not an IP address"),
        ("/api/v1/hosts/?range=10.0.0.1-%25", "range", "'%' is not an IP address"),
        (f"/api/v1/detections/?network={HUGE}", "network", "less than or equal to"),
        (f"/api/v1/detections/?qid={HUGE}", "qid", "less than or equal to"),
        (f"/api/v1/detections/?host={HUGE}", "host", "less than or equal to"),
        ("/api/v1/detections/?host=abc", "host", "Enter a whole number"),
        ("/api/v1/detections/?severity=9", "severity", "Select a valid choice"),
    ],
)
def test_api_filters_refuse_bad_values_by_name(api_as, host, url, field, words):
    response = api_as("reader").get(url)
    assert response.status_code == 400, response.content
    assert words in " ".join(response.json()[field])


@pytest.mark.parametrize("query", ["ip=%25", "range=%25", "range=10.0.0.%25"])
def test_host_pages_show_the_filter_error(client_as, host, query):
    client = client_as("reader")
    for url in (
        reverse("assets:host_list"),
        reverse("assets:network_hosts", args=[host.network_id]),
    ):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, url
        if url != reverse("assets:host_list"):  # the expansion's filter form
            assert "is not an IP address" in response.content.decode()


def test_a_detail_past_64_bits_is_not_found(api_as, client_as):
    assert api_as("reader").get(f"/api/v1/hosts/{HUGE}/").status_code == 404
    assert api_as("reader").get(f"/api/v1/detections/{HUGE}/").status_code == 404
    assert client_as("reader").get(f"/assets/hosts/{HUGE}/").status_code == 404


def test_a_tag_with_an_unknown_host_is_refused_whole(api_as, host):
    api = api_as("scanner")
    response = api.post("/api/v1/tags/", {"name": "dmz", "hosts": [host.pk, 987654]}, "json")
    assert response.status_code == 400
    assert "No host with id 987654" in " ".join(response.json()["hosts"])
    assert not Tag.objects.filter(name="dmz").exists()
    response = api.post("/api/v1/tags/", {"name": "dmz", "hosts": [int(HUGE)]}, "json")
    assert response.status_code == 400 and not Tag.objects.exists()


def test_a_tag_update_with_an_unknown_host_changes_nothing(api_as, host):
    api = api_as("scanner")
    tag = api.post("/api/v1/tags/", {"name": "dmz", "hosts": [host.pk]}, "json").json()
    response = api.patch(f"/api/v1/tags/{tag['id']}/", {"name": "DMZ-2", "hosts": [5]}, "json")
    assert response.status_code == 400
    kept = Tag.objects.get(pk=tag["id"])
    assert kept.name == "dmz" and list(kept.hosts.values_list("pk", flat=True)) == [host.pk]


@pytest.mark.parametrize("value", ["abc", HUGE, "-1", "٣"])
def test_new_report_with_a_bad_template_id_starts_from_the_first(client_as, value):
    response = client_as("reader").get(f"{reverse('reports:report_create')}?template={value}")
    assert response.status_code == 200


def test_a_report_whose_file_is_gone_is_not_found_on_the_page_and_the_api(
    client_as, api_as, reader
):
    from django.core.files.base import ContentFile

    report = Report.objects.create(
        title="r",
        owner=reader,
        format="csv",
        status=ReportStatus.FINISHED,
        file=ContentFile(b"ip,network\n", name="r.csv"),
    )
    report.file.storage.delete(report.file.name)
    client = client_as("manager")
    assert client.get(reverse("reports:report_download", args=[report.pk])).status_code == 404
    response = api_as("manager").get(f"/api/v1/reports/{report.pk}/download/")
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]


# "¹".isdigit() is True and int("¹") raises: a digit test must also ask isascii().
SUPERSCRIPT = "¹"


@pytest.mark.parametrize(
    "role, url",
    [
        ("scanner", f"/scans/new/?network={SUPERSCRIPT}&appliance={SUPERSCRIPT}"),
        ("scanner", f"/assets/groups/new/?network={SUPERSCRIPT}"),
        ("reader", f"/assets/hosts/?open={SUPERSCRIPT}"),
        ("reader", f"/scans/kb/?q={SUPERSCRIPT}"),
    ],
)
def test_pages_take_a_superscript_digit_as_no_number(client_as, host, role, url):
    assert client_as(role).get(url).status_code == 200


def test_the_connectors_api_takes_a_superscript_id_as_not_found(api_as):
    assert api_as("manager").get(f"/api/v1/connectors/{SUPERSCRIPT}/").status_code == 404
