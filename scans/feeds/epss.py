"""FIRST's EPSS scores (CSV, usually gzip).

The file FIRST publishes daily::

    #model_version:v2023.03.01,score_date:2024-07-09T00:00:00+0000
    cve,epss,percentile
    CVE-1999-0001,0.01141,0.84058

The comment line is optional (files from before 2022 lack it, and so do the
scores' own exports); the header must name ``cve`` and ``epss`` (``percentile``
may be missing in those old files: it is then None). Columns are found by name,
so an added column changes nothing. ``parse`` reads line by line and yields an
``EpssScore`` per row; a row that is not a CVE id with scores from 0 to 1
stops the parse with ``FeedFormatError`` naming the line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from .base import FeedFormatError, cve_id, damaged_gzip

FORMAT = "epss"
LABEL = "FIRST EPSS scores (CSV)"
REQUIRED = ("cve", "epss")


@dataclass(slots=True)
class EpssScore:
    cve_id: str
    epss: float  # probability of exploitation activity in the next 30 days, 0-1
    percentile: float | None = None  # share of all scored CVEs with a lower or equal score


@dataclass(slots=True)
class EpssHeader:
    model_version: str = ""
    score_date: str = ""
    columns: tuple[str, ...] = ()


def read_header(stream: IO[bytes]) -> EpssHeader:
    """The comment line and the column names; FeedFormatError when the file is
    not EPSS scores."""
    with _text(stream) as lines:
        header, _rows, _line = _start(lines)
    return header


def parse(stream: IO[bytes]) -> Iterator[EpssScore]:
    """Every row of the file, in file order."""
    with _text(stream) as lines:
        header, rows, header_line = _start(lines)
        cve_at = header.columns.index("cve")
        epss_at = header.columns.index("epss")
        percentile_at = header.columns.index("percentile") if "percentile" in header.columns else -1
        width = len(header.columns)
        for row in _rows(rows, header_line):
            line = header_line + rows.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                raise FeedFormatError(
                    f"Line {line:,}: {len(row)} columns, the header has {width} "
                    f"({','.join(header.columns)})."
                )
            yield EpssScore(
                cve_id=cve_id(row[cve_at], f"Line {line:,}"),
                epss=_probability(row[epss_at], "epss", line),
                percentile=(
                    _probability(row[percentile_at], "percentile", line)
                    if percentile_at >= 0
                    else None
                ),
            )


def _rows(rows: Any, header_line: int) -> Iterator[list[str]]:
    """The CSV reader's rows; a row it cannot read as FeedFormatError naming the line."""
    try:
        yield from rows
    except csv.Error as error:
        raise FeedFormatError(f"Line {header_line + rows.line_num:,}: {error}.") from None


@contextmanager
def _text(stream: IO[bytes]) -> Iterator[IO[str]]:
    """The stream as decoded text; decoding and gzip errors as FeedFormatError.
    The caller keeps the stream (it is detached, not closed)."""
    wrapper = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        with damaged_gzip():
            yield wrapper
    except UnicodeDecodeError as error:
        raise FeedFormatError(
            f"Not {LABEL}: the file is not UTF-8 text ({error.reason})."
        ) from None
    finally:
        wrapper.detach()


def _start(lines: IO[str]) -> tuple[EpssHeader, Any, int]:
    """(header, the CSV reader past the header, the header's line number)."""
    first = lines.readline(4096)
    line = 1
    header = EpssHeader()
    if first.startswith("#"):
        for item in first[1:].strip().split(","):
            name, _, value = item.partition(":")
            if name.strip() == "model_version":
                header.model_version = value.strip()[:64]
            elif name.strip() == "score_date":
                header.score_date = value.strip()[:64]
        first = lines.readline(4096)
        line = 2
    if not first.strip():
        raise FeedFormatError(f"Not {LABEL}: no header line (cve,epss,percentile).")
    columns = tuple(c.strip().lower() for c in next(csv.reader([first])))
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        shown = first.strip()[:80]
        raise FeedFormatError(
            f"Not {LABEL}: line {line} is '{shown}', expected the header cve,epss,percentile."
        )
    header.columns = columns
    return header, csv.reader(lines), line


def _probability(value: str, column: str, line: int) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:  # also NaN
        raise FeedFormatError(
            f"Line {line:,}: {column} {value[:40]!r} is not a number from 0 to 1."
        )
    return number
