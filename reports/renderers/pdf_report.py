"""PDF reports with WeasyPrint: one document when small, else parts rendered in parallel.

A report whose findings fit in one chunk (``chunk_rows()``) is one WeasyPrint
document: its contents get their page numbers from ``target-counter()``, its
running header and footer are margin boxes, its links are WeasyPrint's own.

One WeasyPrint document of 20,000 findings takes minutes and gigabytes
(MEASURED.md), so the report is made of parts, each its own small document:
the cover, the table of contents, the executive summary per network, the
findings in chunks of about ``chunk_rows()`` findings, the vulnerability
details. Up to ``processes()`` worker processes render them at once, each
into its own file, and say how many pages it took and on which page each
anchor (host, QID, network) landed.

Page numbers are global, and only known once every part is laid out:

* the table of contents is rendered last, though it prints second: every
  entry is one line whatever its number, so its page count depends only on the
  number of entries. A draft without numbers is laid out beside the last parts
  (a worker is free by then) to learn that count; the contents are then
  rendered once with their numbers (and again should the count differ, which
  the one-line entries rule out);
* then every part is stamped, again in parallel: the running header, the
  footer and "Page X of Y", and links into other parts (the rows' QIDs to the
  details, the contents to everything) pointed at named destinations;
* pikepdf joins the parts, keeps their named destinations (pointed at the
  joined pages) and adds the bookmarks (the contents' entries).

Memory stays that of a few parts at a time, whatever the size of the report.
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
from contextlib import ExitStack
from pathlib import Path

import pikepdf
from django.conf import settings
from django.utils.dateformat import format as date_format

from ..models import Report
from . import RenderCounts
from .content import EvidenceLimit, TocEntry, text
from .document import Document, prepare, report_css, stamp_css
from .pdf_worker import ANCHOR_SCHEME, exit_with, render_chunk, stamp_chunk

logger = logging.getLogger(__name__)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def chunk_rows() -> int:
    return _setting("ENCLAVE_REPORT_PDF_CHUNK_ROWS", 500)


def processes() -> int:
    return max(1, _setting("ENCLAVE_REPORT_PDF_PROCESSES", min(2, os.cpu_count() or 1)))


def _pool_context():
    """Workers forked from a server that has imported WeasyPrint once (per
    process that renders reports): a pool starts in a fraction of a second
    instead of importing WeasyPrint in every worker. The server is started
    clean, so no database connection or thread of this process is copied."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["reports.renderers.pdf_worker"])
    return context


class _Parts:
    """The report's parts in print order: rendered in this process until a second
    one shows the report is worth worker processes, then in a pool with a bounded
    number in flight (so the HTML waiting for a worker stays a few parts)."""

    def __init__(self, workdir: Path, css: str, workers: int):
        self.workdir, self.css, self.workers = workdir, css, workers
        self.pool: ProcessPoolExecutor | None = None
        self.held: tuple[int, str, int] | None = None
        self.pending: deque[tuple[int, Future | None, int]] = deque()
        self.files: list[Path] = []
        self.pages: dict[int, int] = {}
        self.anchors: dict[int, dict[str, int]] = {}

    def reserve(self) -> int:
        """A place in the print order for a part rendered later (the contents)."""
        self.files.append(self.workdir / f"part-{len(self.files):05d}.pdf")
        return len(self.files) - 1

    def add(self, body: str, rows: int = 0) -> Iterator[int]:
        """Queues a part; yields the rows of parts that finished meanwhile."""
        index = self.reserve()
        if self.workers > 1 and self.pool is None and self.held is None:
            self.held = (index, body, rows)
            return
        if self.workers > 1 and self.pool is None:
            self.pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_pool_context(),
                initializer=exit_with,
                initargs=(os.getpid(),),
            )
            held, self.held = self.held, None
            self._queue(*held)
        self._queue(index, body, rows)
        while len(self.pending) > self.workers * 2:
            yield self._collect()

    def drain(self) -> Iterator[int]:
        if self.held is not None:
            self._queue(*self.held)
            self.held = None
        while self.pending:
            yield self._collect()

    def render_into(self, index: int, body: str) -> None:
        """Queues a part for the place reserved at ``index``."""
        self._queue(index, body, 0)

    def render_now(self, index: int, body: str) -> int:
        """Renders the part at ``index`` and waits for it; returns its pages."""
        self.render_into(index, body)
        list(self.drain())
        return self.pages[index]

    def _queue(self, index: int, body: str, rows: int) -> None:
        args = (body, self.css, str(self.files[index]))
        if self.pool is None:
            self.pages[index], self.anchors[index] = render_chunk(*args)
            self.pending.append((index, None, rows))
        else:
            self.pending.append((index, self.pool.submit(render_chunk, *args), rows))

    def _collect(self) -> int:
        index, future, rows = self.pending.popleft()
        if future is not None:
            self.pages[index], self.anchors[index] = future.result()
        return rows

    def first_pages(self) -> list[int]:
        """The global number of each part's first page."""
        firsts, number = [], 1
        for index in range(len(self.files)):
            firsts.append(number)
            number += self.pages[index]
        return firsts

    def anchor_pages(self) -> dict[str, int]:
        """Anchor -> global page number (the first page it shows on)."""
        found: dict[str, int] = {}
        for index, first in enumerate(self.first_pages()):
            for name, page in self.anchors.get(index, {}).items():
                found.setdefault(name, first + page)
        return found

    def stamp(self, *, title: str, generated: str, brand: str) -> int:
        """Numbers and stamps every part (in parallel); returns the page total."""
        total = sum(self.pages.values())
        jobs = []
        for path, first in zip(self.files, self.first_pages(), strict=True):
            kwargs = {
                "first_page": first,
                "total": total,
                "title": title,
                "generated": generated,
                "css": stamp_css(),
                "brand": brand,
            }
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


def _contents(parts: _Parts, document, slot: int) -> None:
    """Renders the table of contents into ``slot`` with the right page numbers,
    once the draft queued by ``_parts`` has given its page count (see the
    module's docstring)."""
    for _ in range(3):
        guess = parts.pages[slot]
        pages = parts.render_now(slot, document.toc_html(parts.anchor_pages()))
        if pages == guess:
            return
    raise RuntimeError("the table of contents did not settle on a page count")


def _bookmarks(pdf: pikepdf.Pdf, entries: list[TocEntry], pages: dict[str, int]) -> None:
    """The contents' entries as the PDF's outline, nested as they are."""
    parents: dict[int, pikepdf.OutlineItem] = {}
    with pdf.open_outline() as outline:
        for entry in entries:
            page = pages.get(entry.anchor)
            if page is None:
                continue
            item = pikepdf.OutlineItem(entry.label, page - 1)
            parent = parents.get(entry.level - 1)
            (parent.children if parent is not None else outline.root).append(item)
            parents[entry.level] = item


def _join(files: list[Path], stack: ExitStack) -> pikepdf.Pdf:
    """The parts as one document. WeasyPrint names a destination for every id of
    a part; the joined document keeps them (the first of a name wins, as in
    ``_Parts.anchor_pages``), pointed at the joined pages, so the links the
    stamp turned into named destinations lead across parts. The parts stay
    open until the joined document is saved: their pages' streams are copied
    then."""
    joined = stack.enter_context(pikepdf.new())
    destinations: dict[str, pikepdf.Array] = {}
    for file in files:
        part = stack.enter_context(pikepdf.open(file))
        first = len(joined.pages)
        at = {page.obj.objgen: first + i for i, page in enumerate(part.pages)}
        names = part.Root.get("/Names")
        tree = {} if names is None or "/Dests" not in names else pikepdf.NameTree(names.Dests)
        targets = [(name, target) for name, target in tree.items() if name not in destinations]
        # Page by page: pages.extend() warns that it drops the part's named
        # destinations, which are carried below. (pikepdf's add_pages_from()
        # carries only the names a part's own links use, not those of other parts.)
        for page in part.pages:
            joined.pages.append(page)
        for name, target in targets:
            page = joined.pages[at[target[0].objgen]]
            destinations[name] = pikepdf.Array([page.obj, *list(target)[1:]])
    tree = pikepdf.NameTree.new(joined)
    for name in sorted(destinations):
        tree[name] = destinations[name]
    joined.Root.Names = pikepdf.Dictionary(Dests=tree.obj)
    return joined


def _single(
    document: Document, css: str, path: Path, *, title: str, generated: str, brand: str
) -> tuple[int, dict[str, int], int]:
    """The whole report as one WeasyPrint document (a small report). Returns its
    pages, anchor -> page number, and the findings it holds."""
    document.link_with("#")
    body, rows = [], 0
    for html, count in document.chunks(chunk_rows()):
        body.append(html)
        rows += count
    body.extend(document.appendix())
    running = (
        f'<p class="run-title">{text(title)}</p><p class="run-brand">{text(brand)}</p>'
        f'<p class="run-generated">{text(generated)}</p>'
    )
    html = "".join(
        [
            running,
            document.cover_html,
            document.toc_html(counters=True),
            document.networks_html,
            *body,
        ]
    )
    pages, anchors = render_chunk(html, css, str(path), ' class="single"')
    return pages, {name: page + 1 for name, page in anchors.items()}, rows


def _parts(
    document: Document,
    css: str,
    workdir: Path,
    progress: Callable[[int], None],
    *,
    title: str,
    generated: str,
    brand: str,
) -> tuple[int, dict[str, int], int, list[Path]]:
    """The report in parts rendered in parallel, numbered and stamped (see the
    module's docstring). Returns pages, anchor pages, findings and the parts'
    files in print order."""
    document.link_with(ANCHOR_SCHEME)
    total = max(document.summary.findings, 1)
    parts = _Parts(workdir, css, processes())
    done = 0

    def count(finished: Iterator[int]) -> None:
        nonlocal done
        for rows in finished:
            done += rows
            progress(3 + 82 * done // total)

    try:
        count(parts.add(document.cover_html))
        contents = parts.reserve()
        if document.networks_html:
            count(parts.add(document.networks_html))
        for body, rows in document.chunks(chunk_rows()):
            count(parts.add(body, rows))
        for details in document.appendix():
            count(parts.add(details))
        parts.render_into(contents, document.toc_html({}))  # the draft: no numbers
        count(parts.drain())
        _contents(parts, document, contents)
        pages = parts.stamp(title=title, generated=generated, brand=brand)
        progress(95)
    finally:
        parts.close()
    return pages, parts.anchor_pages(), done, parts.files


def render(*, report: Report, path: Path, progress: Callable[[int], None]) -> RenderCounts:
    started = time.perf_counter()
    document = prepare(report=report, evidence_limit=EvidenceLimit())
    css = report_css()
    progress(3)
    labels = {
        "title": report.title,
        "generated": "Generated " + date_format(document.generated_at, "Y-m-d H:i T"),
        "brand": getattr(settings, "ENCLAVE_ORG_NAME", "") or "Enclave",
    }
    workdir = path.parent / f".parts-{path.stem}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        with ExitStack() as stack:
            if document.summary.findings <= chunk_rows():
                single = workdir / "single.pdf"
                pages, anchors, findings = _single(document, css, single, **labels)
                pdf = stack.enter_context(pikepdf.open(single))
            else:
                pages, anchors, findings, files = _parts(document, css, workdir, progress, **labels)
                pdf = _join(files, stack)
            rendered = time.perf_counter()
            _bookmarks(pdf, document.toc_entries(), anchors)
            pdf.docinfo["/Title"] = report.title
            pdf.docinfo["/Creator"] = "Enclave"
            # Object streams: the joined file's many small objects take half the bytes.
            pdf.save(path, object_stream_mode=pikepdf.ObjectStreamMode.generate)
        logger.info(
            "PDF report %s: %d pages, %d findings; rendered and joined in %.1f s, saved in %.1f s",
            report.pk,
            pages,
            findings,
            rendered - started,
            time.perf_counter() - rendered,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return RenderCounts(hosts=document.summary.hosts, findings=findings)
