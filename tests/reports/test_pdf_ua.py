"""PDF reports are styled with print-ua.css instead of WeasyPrint's own user-agent
stylesheet, which only costs time (see that file): a whole report, every part of
it, looks exactly the same with either."""

import pytest
from pypdf import PdfReader
from weasyprint import HTML

from reports.renderers import pdf_worker
from reports.renderers.document import prepare, report_css
from reports.renderers.pdf_worker import ReportHTML, render_chunk

from .helpers import assert_same_pages


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["host", "vulnerability"])
def test_a_report_looks_the_same_with_weasyprints_user_agent_stylesheet(
    twin_networks, reader, tmp_path, monkeypatch, sort
):
    from reports import services

    report = services.report_create(
        actor=reader,
        title="Two companies",
        format="pdf",
        sort=sort,
        targets="10.0.0.0/16",
        statuses=["new", "active", "reopened", "fixed"],
        include_evidence=True,
        include_details=True,
    )
    document = prepare(report=report)
    body = "".join(html for html, _ in document.chunks(1000)) + "".join(document.appendix())
    body = document.cover_html + document.toc_html({}) + document.networks_html + body
    ours, theirs = tmp_path / "ours.pdf", tmp_path / "theirs.pdf"
    render_chunk(body, report_css(), str(ours))
    with monkeypatch.context() as patch:
        patch.setattr(pdf_worker, "ReportHTML", HTML)
        render_chunk(body, report_css(), str(theirs))
    assert len(PdfReader(ours).pages) > 3
    assert_same_pages(ours, theirs, tmp_path)


def test_weasyprint_still_asks_the_html_for_its_user_agent_stylesheets(monkeypatch, tmp_path):
    """``_ua_stylesheets`` is WeasyPrint's hook, not a documented API: should a
    release stop calling it, reports would silently go back to the slow sheet."""
    asked = []
    original = ReportHTML._ua_stylesheets

    def spy(self, forms=False):
        asked.append(forms)
        return original(self, forms)

    monkeypatch.setattr(ReportHTML, "_ua_stylesheets", spy)
    render_chunk("<p>One line</p>", report_css(), str(tmp_path / "one.pdf"))
    assert asked
