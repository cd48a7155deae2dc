import pytest
from django.urls import reverse

from accounts.models import Role
from reports import services
from reports.models import Report, ReportStatus, ReportTemplate
from tests.factories import UserFactory

from .helpers import csv_from_bytes, pdf_pages

pytestmark = pytest.mark.django_db

ROLES = [Role.MANAGER, Role.SCANNER, Role.READER]


def a_report(owner, **kwargs):
    kwargs.setdefault("targets", "10.0.0.5")
    kwargs.setdefault("format", "csv")
    return services.report_create(actor=owner, title=kwargs.pop("title", "Weekly"), **kwargs)


def finished(report):
    return services.report_generate(report=report)


# --- who may open what ---------------------------------------------------------------

PAGES = [
    ("reports:report_list", {}, ROLES),
    ("reports:report_create", {}, ROLES),
    ("reports:template_list", {}, ROLES),
    ("reports:template_create", {}, [Role.MANAGER, Role.SCANNER]),
]


@pytest.mark.parametrize(("name", "kwargs", "allowed"), PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_page_role_matrix(client_as, name, kwargs, allowed, role):
    response = client_as(role).get(reverse(name, kwargs=kwargs))
    assert response.status_code == (200 if role in allowed else 403)


@pytest.mark.parametrize("name", ["reports:report_list", "reports:template_list"])
def test_pages_need_a_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("role", ROLES)
def test_template_edit_and_delete_role_matrix(client_as, role):
    template = ReportTemplate.objects.create(title="Quarterly")
    client = client_as(role)
    allowed = role in (Role.MANAGER, Role.SCANNER)
    update = reverse("reports:template_update", args=[template.pk])
    assert client.get(update).status_code == (200 if allowed else 403)
    response = client.post(
        update,
        {
            "title": "Quarterly 2",
            "sort": "vulnerability",
            "severities": ["5", "4"],
            "statuses": ["new"],
            "kinds": ["confirmed"],
        },
    )
    assert response.status_code == (302 if allowed else 403)
    template.refresh_from_db()
    assert (template.title == "Quarterly 2") is allowed
    response = client.post(reverse("reports:template_delete", args=[template.pk]))
    assert response.status_code == (302 if allowed else 403)
    assert ReportTemplate.objects.filter(pk=template.pk).exists() is not allowed


def test_builtin_template_delete_is_refused_on_the_page(client_as):
    builtin = ReportTemplate.objects.filter(is_builtin=True).first()
    client = client_as(Role.MANAGER)
    assert (
        "cannot be deleted"
        in client.get(reverse("reports:template_delete", args=[builtin.pk])).content.decode()
    )
    client.post(reverse("reports:template_delete", args=[builtin.pk]))
    assert ReportTemplate.objects.filter(pk=builtin.pk).exists()


def test_template_form_names_a_missing_filter(client_as):
    response = client_as(Role.SCANNER).post(
        reverse("reports:template_create"),
        {
            "title": "Empty",
            "sort": "host",
            "severities": [],
            "statuses": ["new"],
            "kinds": ["info"],
        },
    )
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not ReportTemplate.objects.filter(title="Empty").exists()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_runs_a_report_from_the_form(
    client_as, role, twin_networks, django_capture_on_commit_callbacks
):
    t = twin_networks
    template = ReportTemplate.objects.get(sort="vulnerability", is_builtin=True)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_as(role).post(
            reverse("reports:report_create"),
            {
                "title": "Both LANs",
                "template": template.pk,
                "format": "pdf",
                "asset_groups": [t["alpha_group"].pk],
                "network": str(t["beta"].pk),
                "targets": "10.0.0.5",
                "tags": [],
            },
        )
    report = Report.objects.get(title="Both LANs")
    assert response.status_code == 302 and response["Location"] == report.get_absolute_url()
    assert report.owner.role == role and report.sort == "vulnerability"
    assert report.target_network == t["beta"] and list(report.asset_groups.all()) == [
        t["alpha_group"]
    ]
    assert len(callbacks) == 1  # the Celery task, once committed


def test_report_form_shows_the_bad_token_and_writes_nothing(client_as):
    response = client_as(Role.READER).post(
        reverse("reports:report_create"),
        {
            "title": "Bad",
            "template": ReportTemplate.objects.first().pk,
            "format": "pdf",
            "network": "all",
            "targets": "10.0.0.300",
        },
    )
    assert response.status_code == 200
    assert "&#x27;10.0.0.300&#x27; is not an IP address" in response.content.decode()
    assert not Report.objects.exists()


def test_report_form_lists_asset_groups_with_their_network(client_as, twin_networks):
    html = client_as(Role.READER).get(reverse("reports:report_create")).content.decode()
    assert "Alpha LAN (Alpha Corp)" in html and "Beta LAN (Beta Inc)" in html
    assert "All networks" in html and 'name="csrfmiddlewaretoken"' in html


# --- seeing, downloading, deleting: owner or Manager -----------------------------------


def test_reports_are_private_to_owner_and_managers(client_as, twin_networks):
    owner = UserFactory(username="owner", role=Role.READER)
    report = finished(a_report(owner))
    for role, visible in ((Role.MANAGER, True), (Role.SCANNER, False), (Role.READER, False)):
        client = client_as(role)
        for name in ("report_detail", "report_download", "report_delete"):
            response = client.get(reverse(f"reports:{name}", args=[report.pk]))
            assert (response.status_code == 200) is visible, (role, name)
            assert response.status_code in (200, 404)
        listing = client.get(reverse("reports:report_list")).content.decode()
        assert ("Weekly" in listing) is visible


def test_owner_downloads_the_csv_file(client, twin_networks):
    owner = UserFactory(username="owner", role=Role.READER)
    report = finished(a_report(owner))
    client.force_login(owner)
    response = client.get(reverse("reports:report_download", args=[report.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    rows = csv_from_bytes(b"".join(response.streaming_content))
    assert {(r["Network"], r["IP"]) for r in rows} == {
        ("Alpha Corp", "10.0.0.5"),
        ("Beta Inc", "10.0.0.5"),
    }


def test_owner_downloads_the_pdf_file(client, twin_networks, tmp_path):
    owner = UserFactory(username="owner", role=Role.READER)
    report = finished(a_report(owner, format="pdf"))
    client.force_login(owner)
    response = client.get(reverse("reports:report_download", args=[report.pk]))
    assert response["Content-Type"] == "application/pdf"
    pdf = tmp_path / "got.pdf"
    pdf.write_bytes(b"".join(response.streaming_content))
    text = "\n".join(pdf_pages(pdf))
    assert "10.0.0.5 · Alpha Corp" in text and "10.0.0.5 · Beta Inc" in text


def test_unfinished_report_has_nothing_to_download(client_as):
    client = client_as(Role.READER)
    report = a_report(UserFactory(username="reader-user"))
    response = client.get(reverse("reports:report_download", args=[report.pk]))
    assert response.status_code == 404


def test_owner_deletes_a_report(client, twin_networks):
    owner = UserFactory(username="owner", role=Role.READER)
    report = finished(a_report(owner))
    client.force_login(owner)
    response = client.post(reverse("reports:report_delete", args=[report.pk]))
    assert response.status_code == 302
    assert not Report.objects.filter(pk=report.pk).exists()


def test_another_reader_cannot_delete(client_as, twin_networks):
    owner = UserFactory(username="owner", role=Role.READER)
    report = a_report(owner)
    response = client_as(Role.SCANNER).post(reverse("reports:report_delete", args=[report.pk]))
    assert response.status_code == 404 and Report.objects.filter(pk=report.pk).exists()


# --- progress with htmx --------------------------------------------------------------


def test_detail_polls_progress_until_done_and_htmx_gets_the_partial(client_as):
    client = client_as(Role.READER)
    report = a_report(UserFactory(username="reader-user"))
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.RUNNING, progress=42)
    url = reverse("reports:report_detail", args=[report.pk])
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in page and f'href="{url}"' in page and "42%" in page
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<section class="card" id="report-progress"')
    assert "<html" not in partial
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.ERROR, error="boom")
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in partial and "boom" in partial


def test_list_polls_while_a_report_runs(client_as):
    client = client_as(Role.READER)
    report = a_report(UserFactory(username="reader-user"))
    url = reverse("reports:report_list")
    assert 'hx-trigger="every 2s"' in client.get(url).content.decode()
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<div id="report-table"') and "<html" not in partial
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.FINISHED)
    assert "hx-trigger" not in client.get(url).content.decode()


def test_report_list_query_count_does_not_grow_with_rows(client_as, django_assert_max_num_queries):
    client = client_as(Role.MANAGER)
    owners = [UserFactory(username=f"u{i}") for i in range(3)]
    for i in range(30):
        a_report(owners[i % 3], title=f"R{i}")
    with django_assert_max_num_queries(8):
        response = client.get(reverse("reports:report_list"))
    assert response.content.decode().count("<tr") == 31


def test_template_list_query_count(client_as, django_assert_max_num_queries):
    for i in range(20):
        ReportTemplate.objects.create(title=f"T{i}")
    client = client_as(Role.SCANNER)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("reports:template_list"))
    assert response.content.decode().count("Run report") == 22
