"""PDF reports with WeasyPrint, in chunks.

One WeasyPrint document of 20,000 findings takes minutes and gigabytes
(MEASURED.md), so the body is cut into chunks of about ``CHUNK_ROWS`` findings
rendered by up to ``PROCESSES`` worker processes at once, each into its own
file. pypdf joins them; a second WeasyPrint document holding only the running
header and footer ("page X of Y" needs the total, known only after the join) is
laid over every page; content streams are compressed on the way out.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from django.conf import settings
from django.template.loader import get_template
from pypdf import PdfReader, PdfWriter

from ..models import Report
from . import RenderCounts
from .document import prepare, report_css, static_base_url
from .pdf_worker import render_chunk


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def chunk_rows() -> int:
    return _setting("ENCLAVE_REPORT_PDF_CHUNK_ROWS", 800)


def processes() -> int:
    return max(1, _setting("ENCLAVE_REPORT_PDF_PROCESSES", min(2, os.cpu_count() or 1)))


class _ChunkRunner:
    """Runs chunks in this process until a second chunk shows the report is big
    enough to be worth worker processes; then in a pool, a bounded number in flight."""

    def __init__(self, workdir: Path, css: str, base_url: str, workers: int):
        self.workdir, self.css, self.base_url, self.workers = workdir, css, base_url, workers
        self.pool: ProcessPoolExecutor | None = None
        self.first: tuple[str, int] | None = None
        self.pending: deque[tuple[Future, int]] = deque()
        self.files: list[Path] = []
        self.pages = 0

    def _path(self, index: int) -> Path:
        return self.workdir / f"chunk-{index:05d}.pdf"

    def submit(self, body: str, rows: int) -> int:
        """Queues a chunk; returns the rows of chunks finished meanwhile."""
        if self.workers <= 1:
            return self._run_here(body, rows)
        if self.pool is None and self.first is None:
            self.first = (body, rows)
            return 0
        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
            )
            first, self.first = self.first, None
            self._submit(*first)
        self._submit(body, rows)
        done = 0
        while len(self.pending) > self.workers * 2:
            done += self._collect()
        return done

    def _run_here(self, body: str, rows: int) -> int:
        path = self._path(len(self.files))
        self.pages += render_chunk(body, self.css, self.base_url, str(path))
        self.files.append(path)
        return rows

    def _submit(self, body: str, rows: int) -> None:
        path = self._path(len(self.files))
        self.files.append(path)
        future = self.pool.submit(render_chunk, body, self.css, self.base_url, str(path))
        self.pending.append((future, rows))

    def _collect(self) -> int:
        future, rows = self.pending.popleft()
        self.pages += future.result()
        return rows

    def drain(self):
        """Yields the rows of each chunk as it finishes, until all are done."""
        if self.first is not None:
            yield self._run_here(*self.first)
            self.first = None
        while self.pending:
            yield self._collect()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _stamp(writer: PdfWriter, *, title: str, generated_at, css: str, base_url: str) -> None:
    """Lays the running header and footer over every page, then compresses."""
    from weasyprint import CSS, HTML

    total = len(writer.pages)
    html = get_template("reports/document/stamp.html").render(
        {"title": title, "generated_at": generated_at, "pages": range(total)}
    )
    stamp = PdfReader(
        io.BytesIO(HTML(string=html, base_url=base_url).write_pdf(stylesheets=[CSS(string=css)]))
    )
    for page, overlay in zip(writer.pages, stamp.pages, strict=True):
        page.merge_page(overlay)
        page.compress_content_streams()


def render(*, report: Report, path: Path, progress: Callable[[int], None]) -> RenderCounts:
    document = prepare(report=report)
    css, base_url = report_css(), static_base_url()
    total = max(document.summary.findings, 1)
    workdir = path.parent / f".chunks-{path.stem}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    runner = _ChunkRunner(workdir, css, base_url, processes())
    done = 0
    progress(3)
    try:
        # The cover opens the first chunk, so a small report is one document.
        cover = document.cover_html
        for body, rows in document.chunks(chunk_rows()):
            finished = runner.submit(cover + body, rows)
            cover = ""
            if finished:
                done += finished
                progress(5 + 85 * done // total)
        if cover:  # no findings at all: the cover alone
            runner.submit(cover, 0)
        for finished in runner.drain():
            done += finished
            progress(5 + 85 * done // total)
        runner.close()
        writer = PdfWriter()
        for chunk in runner.files:
            writer.append(str(chunk))
        progress(92)
        _stamp(
            writer,
            title=report.title,
            generated_at=document.generated_at,
            css=css,
            base_url=base_url,
        )
        writer.add_metadata({"/Title": report.title, "/Creator": "Enclave"})
        with open(path, "wb") as out:
            writer.write(out)
    finally:
        runner.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return RenderCounts(hosts=document.summary.hosts, findings=done)
