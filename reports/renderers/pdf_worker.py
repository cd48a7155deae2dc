"""The work of PDF worker processes: render one part of a report, and lay the
running header and footer over one part's pages. They run in worker processes
(forked from a server that imported only this module), so this module imports
WeasyPrint and pikepdf only: no Django, no database.

Every WeasyPrint document here (and its stylesheet) fetches through
``InlineOnlyFetcher``: nothing but the report's own inline data."""

import html
import io
import logging
import os
import select
import threading
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import DataHandler, Request

# WeasyPrint narrates every step at INFO (its own stylesheets too, on import); a
# report of hundreds of pages would flood the worker's log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

import pikepdf  # noqa: E402
from weasyprint import CSS, HTML  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body{}>{}</body></html>'

# A link from one part to an anchor in another: WeasyPrint resolves links within
# one document only, so the parts write ``href="enclave-anchor:NAME"`` and the
# stamp turns each into a link to the named destination NAME, which the joined
# file holds (WeasyPrint names every id; pdf_report._join carries the names).
ANCHOR_SCHEME = "enclave-anchor:"


def exit_with(owner: int) -> None:
    """A pool worker's initializer: the worker exits as soon as ``owner`` (the
    process that started the pool) is gone, however it went.

    A worker's parent is the fork server, and it holds both ends of the pool's
    queues, so a pool whose owner is killed (SIGKILL, the OOM killer, a cold
    shutdown of the Celery worker) would otherwise wait for work forever, each
    worker holding a WeasyPrint process's memory, and keep the fork server alive
    with it. A thread waits on a pidfd of the owner (Linux), or polls it."""
    try:
        handle = os.pidfd_open(owner)
    except (AttributeError, OSError):
        handle = None
    if handle is None and not _alive(owner):
        os._exit(1)

    def wait() -> None:
        if handle is not None:
            select.select([handle], [], [])
        else:
            while _alive(owner):
                select.select([], [], [], 1.0)
        os._exit(1)

    threading.Thread(target=wait, name="exit-with-owner", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and another user's
        pass
    return True


class RefusedURL(ValueError):
    """A report asked for a resource that is not its own inline data."""


class InlineOnlyFetcher(URLFetcher):
    """WeasyPrint's URL fetcher for reports: answers ``data:`` URLs, refuses the rest.

    A report's HTML is made of what scanned hosts and users wrote. The templates
    escape it; this is the second wall, should markup ever get through: a
    ``file:`` URL would copy the server's files into the PDF and an ``http(s):``
    one would make the worker call whatever the text names (an internal service,
    the cloud metadata address). Those and every other scheme raise
    ``RefusedURL``, so WeasyPrint leaves the image, stylesheet or font out and
    logs why. The report's stylesheet is read from disk by the caller and passed
    as a string, its charts are inline SVG and the organisation's logo a
    ``data:`` URL: nothing else needs fetching.
    """

    def __init__(self):
        # The parent's own guard too, should its fetch() ever be reached.
        super().__init__(allowed_protocols={"data"}, allow_redirects=False)

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        if urlsplit(url).scheme.lower() != "data":
            raise RefusedURL(f"reports load only their own inline data, not {url[:200]!r}")
        # urllib's data: decoder, called directly: no opener, no proxy settings.
        decoded = DataHandler().data_open(Request(url))  # noqa: S310 - data: only, checked above
        return URLFetcherResponse(url, decoded.read(), dict(decoded.headers.items()))


class ReportHTML(HTML):
    """A report's HTML, styled with ``print-ua.css`` in place of WeasyPrint's own
    user-agent stylesheet (the reason is in that file).

    ``_ua_stylesheets`` is WeasyPrint's hook for its HTML subclasses (it keeps
    one for forms); tests/reports/test_pdf_ua.py checks it is still called."""

    user_agent_css = CSS(
        string=(Path(__file__).with_name("print-ua.css")).read_text(encoding="utf-8")
    )

    def _ua_stylesheets(self, forms=False):
        return [self.user_agent_css]


def _render(body: str, css: str, body_attributes: str = ""):
    fetcher = InlineOnlyFetcher()
    return ReportHTML(string=PAGE.format(body_attributes, body), url_fetcher=fetcher).render(
        stylesheets=[CSS(string=css, url_fetcher=fetcher)]
    )


def render_chunk(
    body: str, css: str, out_path: str, body_attributes: str = ""
) -> tuple[int, dict[str, int]]:
    """Writes the part's PDF to ``out_path``; returns its page count and, for
    every id in it, the (0-based) page where it first shows."""
    document = _render(body, css, body_attributes)
    anchors: dict[str, int] = {}
    for index, page in enumerate(document.pages):
        for name in page.anchors:
            anchors.setdefault(name, index)
    document.write_pdf(out_path)
    return len(document.pages), anchors


def stamp_chunk(
    path: str,
    *,
    first_page: int,
    total: int,
    title: str,
    generated: str,
    css: str,
    brand: str = "Enclave",
) -> None:
    """Lays the running header (brand, title) and footer (generated, "Page X of
    Y") over the part's pages, numbered from ``first_page`` of ``total``, and
    points its links to other parts at their named destinations; rewrites ``path``.

    Parts are numbered once all are rendered (only then is the total known),
    and each is stamped on its own, so this runs in parallel too. The first page
    of the report (the cover) gets the footer only. Each page of a small
    WeasyPrint document of header and footer becomes a form XObject drawn over
    its page (pikepdf's ``add_overlay``): the page's own content is not parsed
    or rewritten, so stamping costs about the same whatever a page holds.
    """
    with pikepdf.open(path, allow_overwriting_input=True) as part:
        numbers = range(first_page, first_page + len(part.pages))
        overlay = _render(
            "".join(_stamp_html(number, total, title, generated, brand) for number in numbers),
            css,
            ' class="stamp"',
        ).write_pdf()
        with pikepdf.open(io.BytesIO(overlay)) as stamp:
            for page, over in zip(part.pages, stamp.pages, strict=True):
                page.add_overlay(over)
                _link_anchors(page)
            part.save(path)


def _stamp_html(number: int, total: int, title: str, generated: str, brand: str) -> str:
    """One page of the stamp: the header (not on the cover), the footer."""
    header = (
        ""
        if number == 1
        else f'<p class="ov-h"><span class="ov-r">{html.escape(brand)}</span>'
        f"{html.escape(title)}</p>"
    )
    return (
        f'<div class="ov">{header}<p class="ov-f"><span class="ov-r">Page {number} of '
        f"{total}</span>{html.escape(generated)}</p></div>"
    )


def _link_anchors(page: pikepdf.Page) -> None:
    """Turns the page's ``enclave-anchor:NAME`` links into links to destination NAME."""
    for annotation in page.obj.get("/Annots", ()):
        action = annotation.get("/A")
        uri = str(action.get("/URI", "")) if action is not None else ""
        if uri.startswith(ANCHOR_SCHEME):
            del annotation["/A"]
            annotation.Dest = pikepdf.String(uri[len(ANCHOR_SCHEME) :])
