import re
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from accounts.models import Role
from reports import services, tasks
from reports.models import Report, ReportStatus, ReportTemplate
from tests.factories import DetectionFactory, HostFactory, UserFactory, VulnerabilityFactory

from .helpers import csv_rows, pdf_pages

pytestmark = pytest.mark.django_db

ALL = ["new", "active", "reopened", "fixed"]


def make(actor, **kwargs):
    kwargs.setdefault("title", "Two companies")
    return services.report_create(actor=actor, **kwargs)


def run(report):
    report = services.report_generate(report=report)
    assert report.status == ReportStatus.FINISHED, report.error
    return report


# --- target and content, in every format ---------------------------------------------


def findings_part(pages: list[str]) -> str:
    """The text of a PDF report from its findings on (after cover, contents, summaries)."""
    first = next(
        i for i, text in enumerate(pages) if "Findings by" in text and "Contents" not in text
    )
    return "\n".join(pages[first:])


def test_pdf_by_host_lists_the_same_ip_in_both_networks_with_own_findings(twin_networks, reader):
    report = run(make(reader, format="pdf", targets="10.0.0.5", network="all", statuses=ALL))
    pages = pdf_pages(report.file.path)
    cover = pages[0]
    assert "Two companies" in cover and "Alpha Corp, Beta Inc" in cover
    assert "Open findings" in cover and "4 Critical" in cover
    body = findings_part(pages)
    # Each host headed by its IP and its network, then its own findings only.
    alpha = body.index("10.0.0.5 · Alpha Corp")
    beta = body.index("10.0.0.5 · Beta Inc")
    details = body.index("Vulnerability details", beta)  # the part, not the note atop
    assert alpha < beta < details
    alpha_part, beta_part = body[alpha:beta], body[beta:details]
    assert "SSL Certificate Expired" in alpha_part and "Telnet" not in alpha_part
    assert "Telnet Service Enabled" in beta_part and "SSL" not in beta_part
    assert "web.alpha.example" in alpha_part and "Windows 2022" in beta_part
    assert "10.0.0.9" not in "\n".join(pages)
    total = len(pages)
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in text
    assert report.hosts_count == 2 and report.findings_count == 3


def test_pdf_by_vulnerability_prints_network_beside_every_ip(twin_networks, reader):
    report = run(
        make(reader, format="pdf", sort="vulnerability", targets="10.0.0.0/24", statuses=ALL)
    )
    body = findings_part(pdf_pages(report.file.path))
    ssl = body.index("QID 38170 · SSL Certificate Expired")
    telnet = body.index("QID 38001 · Telnet Service Enabled")
    assert ssl < telnet  # severity 4 before 3
    assert "CVE-2024-0001" in body and "Renew the certificate." in body
    ssl_part = body[ssl:telnet]
    assert re.search(r"10\.0\.0\.5 · Alpha Corp\s+443/tcp\s+Active", ssl_part)
    assert re.search(r"10\.0\.0\.9 · Alpha Corp\s+8443/tcp\s+Fixed", ssl_part)
    telnet_part = body[telnet:]
    assert re.search(r"10\.0\.0\.5 · Beta Inc\s+23/tcp\s+New", telnet_part)
    assert re.search(r"10\.0\.0\.9 · Alpha Corp\s+23/tcp\s+Re-\s*Opened", telnet_part)
    # Every IP line carries a network name.
    for line in body.splitlines():
        if re.search(r"\b10\.0\.0\.\d+\b", line):
            assert "Alpha Corp" in line or "Beta Inc" in line, line


def test_csv_has_one_row_per_finding_with_the_network(twin_networks, reader):
    report = run(make(reader, format="csv", targets="10.0.0.5", statuses=ALL))
    rows = csv_rows(report.file.path)
    assert [(r["Network"], r["IP"], r["QID"], r["Status"]) for r in rows] == [
        ("Alpha Corp", "10.0.0.5", "38170", "Active"),
        ("Beta Inc", "10.0.0.5", "38001", "New"),
        ("Beta Inc", "10.0.0.5", "45017", "Active"),
    ]
    assert rows[0]["CVEs"] == "CVE-2024-0001" and rows[0]["Port"] == "443"
    assert rows[2]["Type"] == "Information gathered" and rows[2]["Port"] == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[0]["First found (UTC)"])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_postgresql_copy_writes_what_the_row_by_row_path_writes(
    twin_networks, reader, settings, monkeypatch
):
    from reports.renderers import csv_report
    from reports.services import generation as services

    # Progress is recorded while COPY streams (from another thread: no deadlock).
    recorded = []
    original = services.report_set_progress

    def record(*, report_id, progress):
        recorded.append(progress)
        original(report_id=report_id, progress=progress)

    monkeypatch.setattr(services, "report_set_progress", record)
    monkeypatch.setattr(csv_report, "PROGRESS_EVERY", 1)
    t = twin_networks
    t["ssl"].cves = ["CVE-2024-0001", "CVE-2024-0002"]
    t["ssl"].known_exploited, t["ssl"].epss = True, 0.97471  # the feeds' columns too
    t["ssl"].save()
    t["alpha5"].detections.update(results='Expired "2024-01-01",\nsecond line')
    kwargs = {"format": "csv", "targets": "10.0.0.0/16", "statuses": ALL}
    copied = run(make(reader, sort="vulnerability", **kwargs))
    assert 95 in recorded  # 5 of 5 rows streamed, said while COPY ran
    settings.ENCLAVE_REPORT_CSV_NO_COPY = True
    written = run(make(reader, sort="vulnerability", **kwargs))
    assert csv_rows(copied.file.path) == csv_rows(written.file.path)
    assert copied.findings_count == written.findings_count == 5
    rows = csv_rows(copied.file.path)
    assert rows[0]["CVEs"] == "CVE-2024-0001 CVE-2024-0002"
    assert 'Expired "2024-01-01",\nsecond line' in [r["Results"] for r in rows]


def test_html_prints_both_hosts_with_their_networks(twin_networks, reader):
    report = run(make(reader, format="html", targets="10.0.0.5", statuses=ALL))
    html = Path(report.file.path).read_text(encoding="utf-8")
    assert "<style>" in html and "@page" in html  # self-contained
    assert "10.0.0.5 · Alpha Corp" in html and "10.0.0.5 · Beta Inc" in html
    assert "<svg" in html and "Open findings" in html
    assert html.index("SSL Certificate Expired") < html.index("10.0.0.5 · Beta Inc")


def test_network_filter_narrows_ip_ranges_only(twin_networks, reader):
    t = twin_networks
    report = run(
        make(
            reader,
            format="csv",
            targets="10.0.0.0/16",
            network=t["alpha"].pk,
            tags=[t["tag"]],
            statuses=ALL,
        )
    )
    assert {(r["Network"], r["IP"]) for r in csv_rows(report.file.path)} == {
        ("Alpha Corp", "10.0.0.5"),
        ("Alpha Corp", "10.0.0.9"),
    }
    t["far"].tags.add(t["tag"])  # a tag reaches other networks whatever the choice
    report = run(
        make(reader, format="csv", targets="10.0.0.0/16", network=t["alpha"].pk, tags=[t["tag"]])
    )
    assert {(r["Network"], r["IP"]) for r in csv_rows(report.file.path)} == {
        ("Alpha Corp", "10.0.0.5"),
        ("Alpha Corp", "10.0.0.9"),
        ("Beta Inc", "10.9.9.9"),
    }


def test_asset_group_only_selection_gives_that_networks_hosts(twin_networks, reader):
    t = twin_networks
    report = run(make(reader, format="csv", asset_groups=[t["beta_group"]], statuses=ALL))
    assert {(r["Network"], r["IP"]) for r in csv_rows(report.file.path)} == {
        ("Beta Inc", "10.0.0.5")
    }
    assert report.hosts_count == 1


def test_filters_keep_only_chosen_severities_statuses_and_types(twin_networks, reader):
    report = run(
        make(
            reader,
            format="csv",
            targets="10.0.0.0/24",
            severities=[3, 4],
            statuses=["new", "reopened"],
            kinds=["confirmed"],
        )
    )
    assert {(r["Network"], r["IP"], r["QID"]) for r in csv_rows(report.file.path)} == {
        ("Beta Inc", "10.0.0.5", "38001"),
        ("Alpha Corp", "10.0.0.9", "38001"),
    }


def test_hosts_sort_by_numeric_ip_not_text(db, reader):
    vuln = VulnerabilityFactory()
    host10 = HostFactory(ip="10.0.0.10")
    host9 = HostFactory(ip="10.0.0.9", network=host10.network)
    for host in (host10, host9):
        DetectionFactory(host=host, vulnerability=vuln)
    report = run(make(reader, format="csv", targets="10.0.0.0/24"))
    assert [r["IP"] for r in csv_rows(report.file.path)] == ["10.0.0.9", "10.0.0.10"]


def test_big_pdf_in_chunks_counts_pages_across_the_whole_report(db, reader, settings):
    """Chunks render in worker processes; "page X of Y" still counts the whole file."""
    settings.ENCLAVE_REPORT_PDF_CHUNK_ROWS = 40
    settings.ENCLAVE_REPORT_PDF_PROCESSES = 2
    vulns = [VulnerabilityFactory(severity=s) for s in (5, 4, 3)]
    first = HostFactory(ip="10.1.0.1")
    for i in range(1, 31):
        host = first if i == 1 else HostFactory(ip=f"10.1.0.{i}", network=first.network)
        for v in vulns:
            DetectionFactory(host=host, vulnerability=v)
    report = run(make(reader, format="pdf", targets="10.1.0.0/24"))
    pages = pdf_pages(report.file.path)
    total = len(pages)
    assert total >= 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in text
    body = "\n".join(pages)
    assert all(f"10.1.0.{i} · {first.network.name}" in body for i in range(1, 31))
    assert report.findings_count == 90


# --- validation and rules -----------------------------------------------------------


def test_bad_ip_is_refused_naming_the_token_and_nothing_is_written(db, reader):
    with pytest.raises(ValidationError) as error:
        make(reader, targets="10.0.0.1, 10.0.0.300")
    assert error.value.message_dict["targets"] == ["'10.0.0.300' is not an IP address"]
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({}, "targets", "Choose at least one target: asset groups, IPs/ranges or tags."),
        ({"targets": "10.0.0.1", "network": "99999"}, "network", "Network 99999 does not exist."),
        ({"targets": "10.0.0.1", "network": "lan"}, "network", "'lan' is not a network id"),
        ({"targets": "10.0.0.1", "format": "docx"}, "format", "'docx' is not a report format"),
        ({"targets": "10.0.0.1", "sort": "ip"}, "sort", "'ip' is not a sort order"),
        ({"targets": "10.0.0.1", "severities": [7]}, "severities", "'7' is not a severity"),
        ({"targets": "10.0.0.1", "statuses": ["open"]}, "statuses", "'open' is not a status"),
        ({"targets": "10.0.0.1", "kinds": []}, "kinds", "Choose at least one."),
    ],
)
def test_report_create_names_the_problem(db, reader, kwargs, field, message):
    with pytest.raises(ValidationError) as error:
        make(reader, **kwargs)
    assert any(m.startswith(message) for m in error.value.message_dict[field])


def test_report_takes_filters_from_its_template(db, scanner):
    template = services.report_template_create(
        actor=scanner, title="Urgent only", sort="vulnerability", severities=[5], statuses=["new"]
    )
    report = make(scanner, template=template, targets="10.0.0.0/8")
    assert (report.sort, report.severities, report.statuses) == ("vulnerability", [5], ["new"])
    assert report.target_network is None and report.targets == "10.0.0.0/8"


def test_report_create_enqueues_after_commit(db, reader, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        make(reader, targets="10.0.0.1")
    assert len(callbacks) == 1


def test_default_templates_ship_and_cannot_be_deleted(db, manager):
    defaults = ReportTemplate.objects.filter(is_builtin=True).order_by("sort")
    assert [t.sort for t in defaults] == ["host", "vulnerability"]
    with pytest.raises(ValidationError, match="cannot be deleted"):
        services.report_template_delete(actor=manager, template=defaults[0])


def test_only_managers_and_scanners_write_templates(db, reader, scanner):
    with pytest.raises(PermissionDenied):
        services.report_template_create(actor=reader, title="Mine")
    template = services.report_template_create(actor=scanner, title="Mine")
    with pytest.raises(ValidationError, match="already exists"):
        services.report_template_create(actor=scanner, title="MINE")
    services.report_template_delete(actor=scanner, template=template)
    assert not ReportTemplate.objects.filter(title="Mine").exists()


def test_delete_by_owner_or_manager_removes_the_file(
    twin_networks, reader, manager, django_capture_on_commit_callbacks
):
    report = run(make(reader, format="csv", targets="10.0.0.5"))
    path = Path(report.file.path)
    other = UserFactory(username="other-reader", role=Role.READER)
    with pytest.raises(PermissionDenied):
        services.report_delete(actor=other, report=report)
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.report_delete(actor=manager, report=report)
    assert not Report.objects.filter(pk=report.pk).exists()
    assert not path.exists()


def test_task_skips_finished_and_missing_reports_and_reruns_unfinished(twin_networks, reader):
    report = make(reader, format="csv", targets="10.0.0.5")
    tasks.report_generate(report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.FINISHED and report.size > 0
    finished_at = report.finished_at
    tasks.report_generate(report.pk)  # redelivered after success: nothing to do
    report.refresh_from_db()
    assert report.finished_at == finished_at
    # A worker lost mid-run leaves it "running"; the redelivered task renders again.
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.RUNNING, progress=40)
    tasks.report_generate(report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.FINISHED and len(csv_rows(report.file.path)) == 3
    assert len(list(report.file.storage.listdir(f"reports/{report.pk}")[1])) == 1
    tasks.report_generate(987654)  # gone: returns quietly


def test_a_failing_render_marks_the_report_as_error(twin_networks, reader, monkeypatch):
    report = make(reader, format="csv", targets="10.0.0.5")
    from reports.renderers import csv_report

    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(csv_report, "render", broken)
    report = services.report_generate(report=report)
    assert report.status == ReportStatus.ERROR and "disk full" in report.error
    assert not report.file
