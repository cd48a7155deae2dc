"""PDF reports with WeasyPrint, in chunks.

One WeasyPrint document of 20,000 findings takes minutes and gigabytes
(MEASURED.md), so the body is cut into chunks of about ``chunk_rows()`` findings
rendered by up to ``processes()`` worker processes at once, each into its own
file. "Page X of Y" needs the total, known only once every chunk is laid out;
so a second round, again in parallel, lays the running header and footer over
each chunk's pages (numbered from that chunk's offset) and compresses them.
pypdf then joins the chunks. Memory stays that of a few chunks at a time.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from django.conf import settings
from django.utils.dateformat import format as date_format
from pypdf import PdfWriter

from ..models import Report
from . import RenderCounts
from .document import prepare, report_css
from .pdf_worker import render_chunk, stamp_chunk

logger = logging.getLogger(__name__)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def chunk_rows() -> int:
    return _setting("ENCLAVE_REPORT_PDF_CHUNK_ROWS", 800)


def processes() -> int:
    return max(1, _setting("ENCLAVE_REPORT_PDF_PROCESSES", min(2, os.cpu_count() or 1)))


class _Chunks:
    """Runs chunks in this process until a second chunk shows the report is big
    enough to be worth worker processes; then in a pool, a bounded number in flight
    (so the HTML waiting for a worker stays a few chunks, whatever the report)."""

    def __init__(self, workdir: Path, css: str, workers: int):
        self.workdir, self.css, self.workers = workdir, css, workers
        self.pool: ProcessPoolExecutor | None = None
        self.held: tuple[str, int] | None = None
        self.pending: deque[tuple[int, Future, int]] = deque()
        self.files: list[Path] = []
        self.pages: dict[int, int] = {}

    def submit(self, body: str, rows: int) -> Iterator[int]:
        """Queues a chunk; yields the rows of chunks that finished meanwhile."""
        if self.workers > 1 and self.pool is None and self.held is None:
            self.held = (body, rows)
            return
        if self.workers > 1 and self.pool is None:
            self.pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
            )
            held, self.held = self.held, None
            self._queue(*held)
        self._queue(body, rows)
        while len(self.pending) > self.workers * 2:
            yield self._collect()

    def drain(self) -> Iterator[int]:
        if self.held is not None:
            self._queue(*self.held)
            self.held = None
        while self.pending:
            yield self._collect()

    def _queue(self, body: str, rows: int) -> None:
        index = len(self.files)
        path = self.workdir / f"chunk-{index:05d}.pdf"
        self.files.append(path)
        args = (body, self.css, str(path))
        if self.pool is None:
            self.pages[index] = render_chunk(*args)
            self.pending.append((index, None, rows))
        else:
            self.pending.append((index, self.pool.submit(render_chunk, *args), rows))

    def _collect(self) -> int:
        index, future, rows = self.pending.popleft()
        if future is not None:
            self.pages[index] = future.result()
        return rows

    def stamp(self, *, title: str, generated: str) -> int:
        """Numbers and stamps every chunk (in parallel); returns the page total."""
        total = sum(self.pages.values())
        first, jobs = 1, []
        for index, path in enumerate(self.files):
            kwargs = {
                "first_page": first,
                "total": total,
                "title": title,
                "generated": generated,
                "css": self.css,
            }
            first += self.pages[index]
            if self.pool is None:
                stamp_chunk(str(path), **kwargs)
            else:
                jobs.append(self.pool.submit(stamp_chunk, str(path), **kwargs))
        for job in jobs:
            job.result()
        return total

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def render(*, report: Report, path: Path, progress: Callable[[int], None]) -> RenderCounts:
    started = time.perf_counter()
    document = prepare(report=report)
    css = report_css()
    total = max(document.summary.findings, 1)
    workdir = path.parent / f".chunks-{path.stem}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    chunks = _Chunks(workdir, css, processes())
    done = 0
    progress(3)
    try:
        # The cover opens the first chunk, so a small report is one document.
        cover = document.cover_html
        for body, rows in document.chunks(chunk_rows()):
            for finished in chunks.submit(cover + body, rows):
                done += finished
                progress(3 + 82 * done // total)
            cover = ""
        if cover:  # no findings at all: the cover alone
            list(chunks.submit(cover, 0))
        for finished in chunks.drain():
            done += finished
            progress(3 + 82 * done // total)
        rendered = time.perf_counter()
        pages = chunks.stamp(
            title=report.title,
            generated="Generated " + date_format(document.generated_at, "Y-m-d H:i T"),
        )
        progress(95)
        stamped = time.perf_counter()
        chunks.close()
        writer = PdfWriter()
        for chunk in chunks.files:
            writer.append(str(chunk))
        writer.add_metadata({"/Title": report.title, "/Creator": "Enclave"})
        with open(path, "wb") as out:
            writer.write(out)
        logger.info(
            "PDF report %s: %d chunks, %d pages; chunks %.1f s, header/footer %.1f s, join %.1f s",
            report.pk,
            len(chunks.files),
            pages,
            rendered - started,
            stamped - rendered,
            time.perf_counter() - stamped,
        )
    finally:
        chunks.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return RenderCounts(hosts=document.summary.hosts, findings=done)
