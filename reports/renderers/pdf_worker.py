"""The work of PDF worker processes: render one chunk, and lay the running header
and footer over one chunk's pages. They run under ``spawn``, so this module
imports WeasyPrint and pypdf only: no Django, no database."""

import html
import io
import logging

# WeasyPrint narrates every step at INFO (its own stylesheets too, on import); a
# report of hundreds of pages would flood the worker's log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

from pypdf import PdfReader, PdfWriter  # noqa: E402
from weasyprint import CSS, HTML  # noqa: E402

PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body{}>{}</body></html>'


def render_chunk(body: str, css: str, base_url: str, out_path: str) -> int:
    """Writes the chunk's PDF to ``out_path``; returns its page count."""
    document = HTML(string=PAGE.format("", body), base_url=base_url).render(
        stylesheets=[CSS(string=css)]
    )
    document.write_pdf(out_path)
    return len(document.pages)


def stamp_chunk(
    path: str, *, first_page: int, total: int, title: str, generated: str, css: str, base_url: str
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
    stamp = PdfReader(
        io.BytesIO(
            HTML(string=stamp_html, base_url=base_url).write_pdf(stylesheets=[CSS(string=css)])
        )
    )
    writer = PdfWriter(clone_from=reader)
    for page, overlay in zip(writer.pages, stamp.pages, strict=True):
        page.merge_page(overlay)
        page.compress_content_streams()
    with open(path, "wb") as out:
        writer.write(out)
