"""The work of PDF worker processes: render one chunk, and lay the running header
and footer over one chunk's pages. They run under ``spawn``, so this module
imports WeasyPrint and pypdf only: no Django, no database.

Every WeasyPrint document here (and its stylesheet) fetches through
``InlineOnlyFetcher``: nothing but the report's own inline data."""

import html
import io
import logging
from urllib.parse import urlsplit
from urllib.request import DataHandler, Request

# WeasyPrint narrates every step at INFO (its own stylesheets too, on import); a
# report of hundreds of pages would flood the worker's log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

from pypdf import PdfReader, PdfWriter  # noqa: E402
from weasyprint import CSS, HTML  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body{}>{}</body></html>'


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
    as a string, and its chart is inline SVG: nothing else needs fetching.
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


def render_chunk(body: str, css: str, out_path: str) -> int:
    """Writes the chunk's PDF to ``out_path``; returns its page count."""
    fetcher = InlineOnlyFetcher()
    document = HTML(string=PAGE.format("", body), url_fetcher=fetcher).render(
        stylesheets=[CSS(string=css, url_fetcher=fetcher)]
    )
    document.write_pdf(out_path)
    return len(document.pages)


def stamp_chunk(
    path: str, *, first_page: int, total: int, title: str, generated: str, css: str
) -> None:
    """Lays header (title) and footer (generated, "Page X of Y") over the chunk's
    pages, numbered from ``first_page`` of ``total``; compresses; rewrites ``path``.

    Chunks are numbered after all are rendered (only then is the total known),
    and each chunk is stamped on its own, so this too runs in parallel.
    """
    reader = PdfReader(path)
    numbers = "".join(
        f'<div class="stamp-page"><span class="stamp-no">Page {first_page + i} of {total}</span>'
        "</div>"
        for i in range(len(reader.pages))
    )
    strings = (
        f'<div class="stamp-title">{html.escape(title)}</div>'
        f'<div class="stamp-generated">{html.escape(generated)}</div>'
    )
    stamp_html = PAGE.format(' class="stamp"', strings + numbers)
    fetcher = InlineOnlyFetcher()
    stamp = PdfReader(
        io.BytesIO(
            HTML(string=stamp_html, url_fetcher=fetcher).write_pdf(
                stylesheets=[CSS(string=css, url_fetcher=fetcher)]
            )
        )
    )
    writer = PdfWriter(clone_from=reader)
    for page, overlay in zip(writer.pages, stamp.pages, strict=True):
        page.merge_page(overlay)
        page.compress_content_streams()
    with open(path, "wb") as out:
        writer.write(out)
