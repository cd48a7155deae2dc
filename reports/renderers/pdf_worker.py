"""Renders one chunk of a PDF report. Runs in worker processes (``spawn``), so it
imports WeasyPrint only: no Django, no database."""

import logging

# WeasyPrint narrates every step at INFO (its own stylesheets too, on import); a
# report of hundreds of pages would flood the worker's log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

from weasyprint import CSS, HTML  # noqa: E402

PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body>{}</body></html>'


def render_chunk(body: str, css: str, base_url: str, out_path: str) -> int:
    """Writes the chunk's PDF to ``out_path``; returns its page count."""
    document = HTML(string=PAGE.format(body), base_url=base_url).render(
        stylesheets=[CSS(string=css)]
    )
    document.write_pdf(out_path)
    return len(document.pages)
