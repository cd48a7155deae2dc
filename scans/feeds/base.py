"""What every feed parser shares: the error, gzip-aware opening, JSON streaming.

Feeds are big (NVD's yearly files are hundreds of MB, gzip or plain), so a
parser never holds a whole file: it reads one record at a time from a binary
stream that ``open_feed`` hands it, decompressed when the file is gzip (told
by its first two bytes, never by its name).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import IO

import ijson

CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
GZIP_MAGIC = b"\x1f\x8b"

Source = str | os.PathLike | IO[bytes]


class FeedFormatError(ValueError):
    """The file is not of the feed's format, or is truncated or malformed. The
    message names the problem and where: the record (JSON), the line (CSV), or
    the byte offset the JSON parser stopped at."""


@contextmanager
def open_feed(source: Source) -> Iterator[IO[bytes]]:
    """A binary stream of the feed's content: a path is opened (and closed after),
    a binary file object is read as it is; gzip content (magic bytes 1f 8b) is
    decompressed on the fly. The stream is seekable when the source is (a gzip
    stream rewinds by decompressing again from the start)."""
    owned = None
    if isinstance(source, str | os.PathLike):
        owned = stream = open(source, "rb")  # noqa: SIM115 - closed below
    else:
        stream = source
    try:
        if not _seekable(stream):
            stream = io.BufferedReader(stream)  # type: ignore[arg-type]
            head = stream.peek(2)[:2]
        else:
            start = stream.tell()
            head = stream.read(2)
            stream.seek(start)
        if head == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=stream, mode="rb") as unpacked:
                yield unpacked  # type: ignore[misc]
        else:
            yield stream
    finally:
        if owned is not None:
            owned.close()


def _seekable(stream) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError):
        return False


@contextmanager
def damaged_gzip() -> Iterator[None]:
    """Decompression errors (a truncated or corrupt .gz) as FeedFormatError."""
    try:
        yield
    except gzip.BadGzipFile as error:
        raise FeedFormatError(f"The gzip data is not valid: {error}.") from None
    except EOFError:
        raise FeedFormatError(
            "The gzip data ends early: the file is truncated (its end-of-stream marker is missing)."
        ) from None
    except zlib.error as error:
        raise FeedFormatError(f"The gzip data is damaged: {error}.") from None


class CountingReader(io.RawIOBase):
    """Counts the bytes a parser has read, so an error can say where it stopped."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self.offset = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.offset += len(data)
        return data

    def readinto(self, buffer) -> int:  # pragma: no cover - ijson calls read()
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def json_error(error: ijson.JSONError, reader: CountingReader, after: str) -> FeedFormatError:
    """ijson's complaint as a sentence: what it found, near which byte, after what."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else "not valid JSON"
    if "premature EOF" in first or "Incomplete JSON" in first:
        what = "the file ends early (truncated?)"
    else:
        what = f"not valid JSON ({first})"
    return FeedFormatError(f"{what[0].upper()}{what[1:]} near byte {reader.offset:,}, {after}.")


def top_level_scalars(
    reader: IO[bytes], *, until: str, label: str, max_events: int = 100_000
) -> dict[str, object]:
    """The scalar members of a JSON object read before its member ``until`` (an
    array) starts; FeedFormatError when the file is not a JSON object, when it
    has no such array, or when ``until`` is not found within ``max_events``."""
    found: dict[str, object] = {}
    events = ijson.parse(reader, use_float=True)
    try:
        for count, (prefix, event, value) in enumerate(events):
            if count == 0 and event != "start_map":
                raise FeedFormatError(
                    f"Not {label}: the file is a JSON {_json_kind(event)}, not an object."
                )
            if prefix == until:
                if event == "start_array":
                    return found
                raise FeedFormatError(
                    f"Not {label}: its '{until}' is a JSON {_json_kind(event)}, not a list."
                )
            if prefix and "." not in prefix and event in _SCALARS:
                found[prefix] = value
            if count >= max_events:
                break
    except ijson.JSONError as error:
        raise json_error(error, reader, "before the list of records") from None  # type: ignore[arg-type]
    raise FeedFormatError(f"Not {label}: the file has no '{until}' list.")


_SCALARS = ("string", "number", "boolean", "null")


def _json_kind(event: str) -> str:
    return {
        "start_map": "object",
        "start_array": "array",
        "string": "string",
        "number": "number",
        "boolean": "true/false",
        "null": "null",
    }.get(event, event)


def cve_id(value: object, where: str) -> str:
    """A CVE id ("CVE-2024-6387"), upper-cased; FeedFormatError naming ``where``."""
    text = str(value).strip().upper() if isinstance(value, str) else ""
    if not CVE_ID.fullmatch(text):
        raise FeedFormatError(f"{where}: {value!r} is not a CVE id (CVE-YYYY-NNNN).")
    return text


def iso_datetime(value: object) -> datetime | None:
    """NVD's timestamps ("2024-07-01T13:15:06.467", UTC without a zone), as UTC;
    None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_date(value: object, where: str, *, required: bool) -> date | None:
    """A YYYY-MM-DD date; FeedFormatError naming ``where`` when required and
    missing, or present and not a date."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FeedFormatError(f"{where}: the date is missing.")
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise FeedFormatError(f"{where}: {value!r} is not a date (YYYY-MM-DD).")


def text(value: object, limit: int = 0) -> str:
    """A string member as stripped text ("" when absent or not a string), cut to
    ``limit`` characters when one is given."""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    return value[:limit] if limit and len(value) > limit else value
