"""What a report says, read back from the files: the PDF's text (pypdf), the HTML
and the CSV. Details and evidence, column headers repeated on every page a table
goes on to, the network beside every IP in every format, and the options doing
what their names say."""

import html as html_lib
import re
from pathlib import Path

import pytest

from reports import services
from reports.models import ReportStatus
from tests.factories import DetectionFactory, HostFactory, NetworkFactory, VulnerabilityFactory

from .helpers import csv_rows, pdf_pages

pytestmark = pytest.mark.django_db

ALL = ["new", "active", "reopened", "fixed"]
EVIDENCE = "Not after: 2024-01-01 (expired)"


def run(actor, **kwargs):
    kwargs.setdefault("title", "Content")
    report = services.report_generate(report=services.report_create(actor=actor, **kwargs))
    assert report.status == ReportStatus.FINISHED, report.error
    return report


def text_of(report) -> str:
    """The report's words: the PDF's text, the HTML without its tags, the CSV as is."""
    path = Path(report.file.path)
    if report.format == "pdf":
        return "\n".join(pdf_pages(path))
    raw = path.read_text(encoding="utf-8")
    if report.format == "html":
        return html_lib.unescape(re.sub(r"<[^>]+>", " ", raw.split("</style>", 1)[1]))
    return raw


@pytest.fixture
def detailed(twin_networks):
    """The twins' SSL finding with every detail and evidence on each finding."""
    t = twin_networks
    t["ssl"].diagnosis = "The certificate's validity ended."
    t["ssl"].consequence = "Clients warn or refuse to connect."
    t["ssl"].cvss = "5.3"
    t["ssl"].save()
    for host in ("alpha5", "alpha9", "beta5"):
        t[host].detections.update(results=f"{EVIDENCE} on {t[host].ip}")
    return t


# --- details and evidence in the PDF ----------------------------------------------------


@pytest.mark.parametrize("sort", ["host", "vulnerability"])
def test_pdf_carries_details_and_evidence_in_both_sorts(detailed, reader, sort):
    text = text_of(run(reader, format="pdf", sort=sort, targets="10.0.0.0/24", statuses=ALL))
    for words in (
        "Threat",
        "The certificate's validity ended.",
        "Impact",
        "Clients warn or refuse to connect.",
        "Solution",
        "Renew the certificate.",
        "CVSS: 5.3",
        "CVE-2024-0001",
        f"{EVIDENCE} on 10.0.0.5",
        f"{EVIDENCE} on 10.0.0.9",
    ):
        assert words in text, words
    # Details once per QID, whatever the number of findings of it.
    assert text.count("The certificate's validity ended.") == 1


@pytest.mark.parametrize("chunk_rows", [500, 12], ids=["one document", "parts"])
def test_a_table_continued_on_the_next_page_repeats_its_headers(db, reader, settings, chunk_rows):
    settings.ENCLAVE_REPORT_PDF_CHUNK_ROWS = chunk_rows
    settings.ENCLAVE_REPORT_PDF_PROCESSES = 1
    network = NetworkFactory(name="Plant A", space="10.7.0.0/16")
    host = HostFactory(network=network, ip="10.7.0.5", dns="mes.plant-a.example")
    vulnerability = VulnerabilityFactory(title="Open port seen", severity=2)
    for port in range(1000, 1045):
        DetectionFactory(
            host=host,
            vulnerability=vulnerability,
            port=port,
            protocol="tcp",
            results=f"port {port} answered\nsecond line\nthird line",
        )
    pages = pdf_pages(run(reader, format="pdf", targets="10.7.0.5").file.path)
    findings = [i for i, page in enumerate(pages) if "port 1000 answered" in page][0]
    table_pages = [page for page in pages[findings:] if re.search(r"port 10\d\d answered", page)]
    assert len(table_pages) >= 2, "the host's table should go on to another page"
    for page in table_pages:
        # Each page of the table starts with its caption and the column names.
        assert re.search(r"10\.7\.0\.5 · Plant A.*\n?.*Sev\s*QID\s*Vulnerability\s*Port", page), (
            page
        )
        assert re.search(r"First\s+found", page) and re.search(r"Last\s+found", page)
    # Rows never split: every finding's three evidence lines sit on one page.
    for port in range(1000, 1045):
        (page,) = [p for p in table_pages if f"port {port} answered" in p]
        after = page.split(f"port {port} answered", 1)[1]
        assert after.lstrip().startswith("second line"), port


# --- the network beside every IP, in every format ------------------------------------------


# An address, not the start of a range or CIDR block (the cover prints the target).
IP = re.compile(r"\b10\.0\.0\.\d+\b(?![/\d-])")


@pytest.mark.parametrize("fmt", ["pdf", "html"])
@pytest.mark.parametrize("sort", ["host", "vulnerability"])
def test_every_ip_is_printed_with_its_network(detailed, reader, fmt, sort):
    text = text_of(run(reader, format=fmt, sort=sort, targets="10.0.0.0/24", statuses=ALL))
    seen = 0
    for match in IP.finditer(text):
        if text[: match.start()].endswith(" on "):  # inside this test's own evidence
            continue
        after = text[match.end() : match.end() + 20]
        assert re.match(r"\s*·\s*(Alpha Corp|Beta Inc)", after), text[match.start() - 40 :][:80]
        seen += 1
    assert seen >= 5  # every finding's IP, and the summary's most vulnerable hosts


def test_every_csv_row_names_its_network(detailed, reader):
    rows = csv_rows(run(reader, format="csv", targets="10.0.0.0/24", statuses=ALL).file.path)
    assert {(r["Network"], r["IP"]) for r in rows} == {
        ("Alpha Corp", "10.0.0.5"),
        ("Alpha Corp", "10.0.0.9"),
        ("Beta Inc", "10.0.0.5"),
    }
    assert len(rows) == 5


# --- the options ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pdf", "html", "csv"])
def test_options_change_the_content_as_named(detailed, reader, fmt):
    everything = text_of(
        run(
            reader,
            format=fmt,
            targets="10.0.0.0/24",
            statuses=ALL,
            include_evidence=True,
            include_details=True,
        )
    )
    assert EVIDENCE in everything
    assert "Renew the certificate." in everything
    assert "OS Banner Detected" in everything  # information gathered
    assert "8443" in everything  # the fixed finding (10.0.0.9, SSL on 8443)

    bare = text_of(
        run(
            reader,
            format=fmt,
            targets="10.0.0.0/24",
            statuses=["new", "active", "reopened"],  # fixed findings omitted
            kinds=["confirmed", "potential"],  # information gathered omitted
            include_evidence=False,
            include_details=False,
        )
    )
    assert EVIDENCE not in bare
    assert "Renew the certificate." not in bare and "Disable telnet." not in bare
    assert "OS Banner Detected" not in bare
    assert "8443" not in bare
    assert "SSL Certificate Expired" in bare and "Telnet Service Enabled" in bare
    if fmt == "csv":
        header = bare.splitlines()[0]
        assert "Results" not in header and "Solution" not in header
        assert "Results" in everything.splitlines()[0]
        assert "Solution" in everything.splitlines()[0]


def findings_text(report) -> str:
    text = text_of(report)
    marker = "Findings by host"
    return text[text.rindex(marker) :] if report.format != "csv" else text


@pytest.mark.parametrize("fmt", ["pdf", "html", "csv"])
def test_group_by_network_puts_each_networks_hosts_together(detailed, reader, fmt):
    def order(grouped):
        report = run(
            reader,
            format=fmt,
            targets="10.0.0.0/24",
            statuses=ALL,
            group_by_network=grouped,
            include_details=False,
        )
        if fmt == "csv":
            return [f"{r['IP']} · {r['Network']}" for r in csv_rows(report.file.path)]
        text = findings_text(report)
        found = re.findall(r"10\.0\.0\.\d+ · (?:Alpha Corp|Beta Inc)", text)
        return list(dict.fromkeys(found))  # each host once, in order

    def hosts(sequence):
        return list(dict.fromkeys(sequence))

    # By host: numeric IP first, the networks interleaved.
    assert hosts(order(False)) == [
        "10.0.0.5 · Alpha Corp",
        "10.0.0.5 · Beta Inc",
        "10.0.0.9 · Alpha Corp",
    ]
    # Grouped: Alpha Corp's hosts, then Beta Inc's.
    assert hosts(order(True)) == [
        "10.0.0.5 · Alpha Corp",
        "10.0.0.9 · Alpha Corp",
        "10.0.0.5 · Beta Inc",
    ]


def test_grouped_pdf_heads_each_network_and_lists_it_in_the_contents(detailed, reader):
    pages = pdf_pages(
        run(
            reader,
            format="pdf",
            sort="vulnerability",
            targets="10.0.0.0/24",
            statuses=ALL,
            group_by_network=True,
        ).file.path
    )
    contents = next(p for p in pages if "Contents" in p)
    assert "Alpha Corp" in contents and "Beta Inc" in contents
    text = "\n".join(pages)
    body = text[text.rindex("Findings by vulnerability") :]
    alpha, beta = body.index("\nAlpha Corp\n"), body.index("\nBeta Inc\n")
    assert alpha < beta
    # Telnet is found in both networks: its details print once, under Alpha Corp,
    # and Beta Inc's section refers to them.
    assert body.count("QID 38001 · Telnet Service Enabled") >= 2
    assert body.count("Disable telnet.") == 1
    assert body.index("Disable telnet.") < beta
    assert "Details of QID 38001: under Alpha Corp" in body[beta:]


# --- prioritisation from the feeds ------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pdf", "html", "csv"])
def test_known_exploited_and_epss_are_printed_with_the_details(detailed, reader, fmt):
    from datetime import date

    ssl = detailed["ssl"]
    ssl.known_exploited, ssl.kev_due_date = True, date(2026, 1, 15)
    ssl.epss, ssl.epss_percentile = 0.97471, 0.99
    ssl.save()
    report = run(reader, format=fmt, sort="vulnerability", targets="10.0.0.0/24", statuses=ALL)
    if fmt == "csv":
        rows = [r for r in csv_rows(report.file.path) if r["QID"] == str(ssl.qid)]
        assert rows and {(r["Known exploited"], r["EPSS"]) for r in rows} == {("yes", "0.97471")}
        return
    text = " ".join(text_of(report).split())
    assert "Known exploited (CISA KEV, remediation due 2026-01-15)" in text
    assert "EPSS: 0.975, percentile 0.99" in text


# --- links and bookmarks lead to the right page ----------------------------------------------


@pytest.mark.parametrize("chunk_rows", [500, 1], ids=["one document", "parts"])
@pytest.mark.parametrize("sort", ["host", "vulnerability"])
def test_links_and_bookmarks_lead_to_their_pages(detailed, reader, settings, sort, chunk_rows):
    """The contents' entries, the rows' QIDs and the bookmarks point at pages
    of the file; in a report made of parts, at pages of other parts (named
    destinations kept through the join)."""
    import pikepdf

    settings.ENCLAVE_REPORT_PDF_CHUNK_ROWS = chunk_rows
    settings.ENCLAVE_REPORT_PDF_PROCESSES = 1
    report = run(reader, format="pdf", sort=sort, targets="10.0.0.0/24", statuses=ALL)
    texts = pdf_pages(report.file.path)
    with pikepdf.open(report.file.path) as pdf:
        numbers = {page.obj.objgen: i for i, page in enumerate(pdf.pages)}
        names = pikepdf.NameTree(pdf.Root.Names.Dests)

        def page_of(destination) -> int:
            if isinstance(destination, pikepdf.String):
                destination = names[str(destination)]
            return numbers[destination[0].objgen]

        links = []
        for index, page in enumerate(pdf.pages):
            for annotation in page.obj.get("/Annots", ()):
                assert "/A" not in annotation or "/URI" not in annotation.A, "an unresolved link"
                links.append((index, page_of(annotation.Dest)))
        # Every entry of the contents links somewhere; by host, every finding's QID too.
        contents = next(i for i, text in enumerate(texts) if "Contents" in text)
        assert sum(1 for source, _ in links if source == contents) >= 5
        if sort == "host":
            details = next(i for i, text in enumerate(texts) if "Vulnerability details" in text)
            qid = str(detailed["ssl"].qid)
            assert any(
                target >= details and f"QID {qid}" in texts[target]
                for source, target in links
                if source != contents
            )
        with pdf.open_outline() as outline:
            top = {item.title: page_of(item.destination) for item in outline.root}
            hosts = {
                child.title: page_of(child.destination)
                for item in outline.root
                for child in item.children
                if child.title.startswith("10.0.0.")
            }
    assert "Summary" in texts[top["Summary"]]
    findings = "Findings by host" if sort == "host" else "Findings by vulnerability"
    assert findings in texts[top[findings]]
    for label, page in hosts.items():
        assert label in texts[page], (label, page)
    if sort == "host":
        assert len(hosts) == 3  # alpha5, alpha9, beta5
