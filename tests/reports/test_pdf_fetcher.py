"""PDF reports fetch nothing: WeasyPrint gets a URL fetcher that answers only the
report's own inline ``data:`` URLs. Markup naming a local file or a URL (images,
stylesheets, @import, CSS url(), fonts, SVG images, objects, attachments) is
left out and logged: the test's HTTP server is never contacted and no local file
is opened, while the normal report renders exactly as before."""

import base64
import contextlib
import logging
import sys

import pytest
from pypdf import PdfReader
from weasyprint.urls import URLFetcher

from reports.renderers import pdf_worker
from reports.renderers.document import prepare, report_css
from reports.renderers.pdf_worker import InlineOnlyFetcher, RefusedURL, render_chunk

from .helpers import RecordingHTTPServer, assert_same_pages, pdf_pages

PNG = RecordingHTTPServer.PNG
DATA_PNG = "data:image/png;base64," + base64.b64encode(PNG).decode()

# --- files opened while a block runs (Python's audit hook "open") ------------------

_opened: list[str] | None = None


def _audit(event, args):
    if event == "open" and _opened is not None and isinstance(args[0], str | bytes):
        _opened.append(str(args[0], "utf-8", "replace") if isinstance(args[0], bytes) else args[0])


sys.addaudithook(_audit)  # once per process; records only inside files_opened()


@contextlib.contextmanager
def files_opened():
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


@pytest.fixture
def http_server():
    with RecordingHTTPServer() as server:
        yield server


@pytest.fixture
def canary(tmp_path):
    """A local image and stylesheet that would show in the PDF if they were read."""
    image, css = tmp_path / "canary.png", tmp_path / "canary.css"
    image.write_bytes(PNG)
    css.write_text("body { background: #f00 }")
    return {"image": image, "css": css}


def hostile_body(server, canary) -> str:
    base = server.url
    return f"""
<p>Before the markup.</p>
<img src="file:///etc/passwd"><img src="{canary["image"].as_uri()}">
<img src="{base}/img.png"><img src="https://127.0.0.1:{server.port}/tls.png">
<img src="ftp://127.0.0.1:{server.port}/ftp.png"><img src="//127.0.0.1:{server.port}/rel.png">
<link rel="stylesheet" href="{base}/link.css">
<link rel="stylesheet" href="{canary["css"].as_uri()}">
<style>
@import url("{base}/import.css");
@import "file:///etc/passwd";
.bg {{ background: url("{base}/bg.png"); list-style-image: url("file:///etc/passwd") }}
@font-face {{ font-family: Leak; src: url("{base}/font.ttf") }}
.leak {{ font-family: Leak }}
</style>
<div class="bg leak">styled by class</div>
<div style="background-image: url('{base}/inline-style.png')">styled inline</div>
<svg width="20" height="20"><image href="{base}/svg.png" width="20" height="20"/></svg>
<object data="{base}/object.png" type="image/png"></object><embed src="{base}/embed.png">
<a rel="attachment" href="{base}/attachment.bin">attachment</a>
<img src="{DATA_PNG}" width="20" height="20" alt="inline">
<p>After the markup.</p>
"""


HOSTILE_CSS = (
    '@import url("http://127.0.0.1:{port}/css-import.css");\n'
    'body {{ background-image: url("http://127.0.0.1:{port}/css-bg.png") }}\n'
    'h1 {{ background-image: url("file:///etc/passwd") }}\n'
)


def images_in(pdf) -> int:
    """Distinct images drawn in the PDF (pages may share one)."""
    return len({image.name for page in PdfReader(pdf).pages for image in page.images})


# --- the fetcher --------------------------------------------------------------------


def test_the_fetcher_answers_inline_data():
    fetcher = InlineOnlyFetcher()
    text = fetcher("data:text/plain;charset=utf-8,hello%20report")
    assert text.read() == b"hello report" and text.content_type == "text/plain"
    image = fetcher(DATA_PNG)
    assert image.read() == PNG and image.content_type == "image/png"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "file://localhost/etc/passwd",
        "https://127.0.0.1:{port}/",
        "ftp://127.0.0.1:{port}/",
        "http://127.0.0.1:{port}/",
        "HTTP://127.0.0.1:{port}/upper",
        "//127.0.0.1:{port}/scheme-relative",
        "javascript:alert(1)",
        "/etc/passwd",
        "{canary}",
    ],
)
def test_the_fetcher_refuses_every_other_url(url, http_server, canary):
    url = url.format(port=http_server.port, canary=canary["image"].as_uri())
    with files_opened() as opened, pytest.raises(RefusedURL, match="inline data"):
        InlineOnlyFetcher()(url)
    assert http_server.hits == []
    assert opened == []


# --- through a real WeasyPrint render ----------------------------------------------------


def test_a_render_fetches_no_url_and_reads_no_file(http_server, canary, tmp_path, caplog):
    out = tmp_path / "chunk.pdf"
    caplog.set_level(logging.DEBUG, logger="weasyprint")  # fonts that fail: DEBUG
    with files_opened() as opened:
        pages, _ = render_chunk(
            hostile_body(http_server, canary),
            HOSTILE_CSS.format(port=http_server.port) + report_css(),
            str(out),
        )
    assert pages == 1
    assert http_server.hits == []
    local = {"/etc/passwd", str(canary["image"]), str(canary["css"])}
    assert not local & set(opened), opened
    text = pdf_pages(out)[0]
    assert "Before the markup." in text and "After the markup." in text
    assert images_in(out) == 1  # the inline data: image, and only it
    refused = caplog.text
    for fragment in (
        "/etc/passwd",
        "/img.png",
        "/link.css",
        "/import.css",
        "/bg.png",
        "/svg.png",
        "/css-import.css",
        "/css-bg.png",
        "canary.png",
        "/font.ttf",
    ):
        assert fragment in refused, fragment
    assert "RefusedURL" in refused


def test_stamping_header_and_footer_fetches_nothing(http_server, tmp_path):
    out = tmp_path / "chunk.pdf"
    render_chunk("<p>Body</p>", report_css(), str(out))
    with files_opened() as opened:
        pdf_worker.stamp_chunk(
            str(out),
            first_page=2,  # the first page of a report (its cover) has no header
            total=2,
            title=f'<img src="{http_server.url}/title.png">',
            generated="Generated now",
            css=HOSTILE_CSS.format(port=http_server.port) + report_css(),
        )
    assert http_server.hits == []
    assert "/etc/passwd" not in opened
    assert f'<img src="{http_server.url}/title.png">' in pdf_pages(out)[0]  # as text


def test_the_harness_sees_what_weasyprint_fetches_by_default(
    http_server, canary, tmp_path, monkeypatch
):
    """The same render with WeasyPrint's own fetcher: the server is hit and the local
    files are read, so the tests above would see it if the report's fetcher did."""
    monkeypatch.setattr(pdf_worker, "InlineOnlyFetcher", URLFetcher)
    out = tmp_path / "default.pdf"
    with files_opened() as opened:
        render_chunk(hostile_body(http_server, canary), report_css(), str(out))
    assert {"/img.png", "/link.css", "/import.css", "/svg.png"} <= set(http_server.hits)
    assert str(canary["image"]) in opened and str(canary["css"]) in opened
    assert images_in(out) > 1


# --- the normal report: unchanged -----------------------------------------------------


@pytest.mark.django_db
def test_a_normal_report_renders_exactly_as_with_weasyprints_own_fetcher(
    twin_networks, reader, tmp_path, monkeypatch, http_server
):
    from reports import services

    report = services.report_create(
        actor=reader,
        title="Two companies",
        format="pdf",
        targets="10.0.0.0/16",
        statuses=["new", "active", "reopened", "fixed"],
    )
    document = prepare(report=report)
    body = document.cover_html + "".join(html for html, _ in document.chunks(1000))
    body += f'<p><img src="{DATA_PNG}" width="40" height="40" alt="inline logo"></p>'
    ours, theirs = tmp_path / "ours.pdf", tmp_path / "theirs.pdf"
    render_chunk(body, report_css(), str(ours))
    with monkeypatch.context() as patch:
        patch.setattr(pdf_worker, "InlineOnlyFetcher", URLFetcher)
        render_chunk(body, report_css(), str(theirs))
    assert_same_pages(ours, theirs, tmp_path)
    assert images_in(ours) == 1  # the data: image still shows
    cover = pdf_pages(ours)[0]
    assert "Open findings" in cover and "4 Critical" in cover  # the SVG chart's text
    assert http_server.hits == []
