"""CPE names: NVD's 2.3 formatted strings and nmap's 2.2 URIs, to one shape.

``parse_cpe("cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*")`` and
``parse_cpe("cpe:/a:openbsd:openssh:8.5p1")`` both give a ``Cpe``; every
attribute is lower case (CPE matching ignores case) and is either a value,
``ANY`` (``*``: any value) or ``NA`` (``-``: the attribute does not apply, e.g.
"no update"). The two matter apart: ``openssh:9.8:-`` is 9.8 *without* an
update (not 9.8p1), ``openssh:7.4:*`` is 7.4 with any update.

Formatted strings (NISTIR 7695, 6.2): 13 ``:``-separated parts after
``cpe:2.3:``; a backslash quotes the next character (``pipeline\\:_groovy`` is
the product ``pipeline:_groovy``); an unquoted ``*`` or ``?`` inside a value is
a wildcard, kept as is (``has_wildcard``), and a quoted one is kept quoted so
the two stay apart.

URIs (CPE 2.2, what nmap prints): ``cpe:/`` then up to seven ``:``-separated
parts, percent-encoded; an empty or missing part is ``ANY``; ``~`` packs the
extended edition attributes into the edition part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

ANY = "*"
NA = "-"
PARTS = {"a", "o", "h"}  # application, operating system, hardware
FIELDS = (
    "part",
    "vendor",
    "product",
    "version",
    "update",
    "edition",
    "language",
    "sw_edition",
    "target_sw",
    "target_hw",
    "other",
)
_WILDCARD = re.compile(r"(?<!\\)(?:\\\\)*[*?]")


class CpeError(ValueError):
    """Not a CPE name; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Cpe:
    part: str
    vendor: str
    product: str
    version: str = ANY
    update: str = ANY
    edition: str = ANY
    language: str = ANY
    sw_edition: str = ANY
    target_sw: str = ANY
    target_hw: str = ANY
    other: str = ANY

    @property
    def key(self) -> tuple[str, str]:
        """(vendor, product): what a product is known by in NVD's configurations."""
        return (self.vendor, self.product)

    def formatted(self) -> str:
        """The CPE 2.3 formatted string of this name."""
        return "cpe:2.3:" + ":".join(_quote(getattr(self, name)) for name in FIELDS)


def parse_cpe(value: str) -> Cpe:
    """A CPE 2.3 formatted string or a CPE 2.2 URI as a ``Cpe``; CpeError otherwise."""
    if not isinstance(value, str):
        raise CpeError(f"{value!r} is not a CPE name.")
    return _parse(value)


# Feeds repeat the same names over and over (every openssh range is
# "cpe:2.3:a:openbsd:openssh:*:*:…"): parse each once. Cpe is immutable.
@lru_cache(maxsize=65536)
def _parse(value: str) -> Cpe:
    text = value.strip()
    lowered = text.lower()
    if lowered.startswith("cpe:2.3:"):
        return _parse_formatted(text)
    if lowered.startswith("cpe:/"):
        return _parse_uri(text)
    raise CpeError(f"'{_short(text)}' is not a CPE name (cpe:2.3:… or cpe:/…).")


def has_wildcard(value: str) -> bool:
    """True when a value holds an unquoted ``*`` or ``?`` besides being ANY itself."""
    return value != ANY and bool(_WILDCARD.search(value))


def _parse_formatted(text: str) -> Cpe:
    parts = _split_quoted(text[len("cpe:2.3:") :])
    if len(parts) != 11:
        raise CpeError(
            f"'{_short(text)}' has {len(parts) + 2} parts; a CPE 2.3 name has 13 "
            "(cpe:2.3:part:vendor:product:version:update:edition:language:"
            "sw_edition:target_sw:target_hw:other)."
        )
    if not all(parts):
        empty = FIELDS[parts.index("")]
        raise CpeError(f"'{_short(text)}': the {empty} is empty (use * for any value).")
    values = [_unquote(part) for part in parts]
    if values[0] not in PARTS and values[0] != ANY:
        raise CpeError(f"'{_short(text)}': part '{parts[0]}' is not a, o or h.")
    return Cpe(*values)


def _split_quoted(body: str) -> list[str]:
    """Split on ':' that a backslash does not quote."""
    if "\\" not in body:
        return body.split(":")
    parts, current, index = [], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            current.append(body[index : index + 2])
            index += 2
            continue
        if char == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    """A formatted-string value, lower case, quoting removed except before * and ?
    (so a quoted wildcard character stays apart from a wildcard)."""
    if value in (ANY, NA):
        return value
    if "\\" not in value:
        return value.lower()
    out, index = [], 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            following = value[index + 1]
            out.append(f"\\{following}" if following in "*?\\" else following)
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out).lower()


def _quote(value: str) -> str:
    if value in (ANY, NA):
        return value
    out = []
    for char in value:
        if char.isalnum() or char in "_.-*?\\":
            out.append(char)
        else:
            out.append(f"\\{char}")
    return "".join(out)


def _parse_uri(text: str) -> Cpe:
    parts = text[len("cpe:/") :].split(":")
    if len(parts) > 7:
        raise CpeError(f"'{_short(text)}' has {len(parts)} parts after cpe:/; a URI has at most 7.")
    values = [_uri_value(part) for part in parts] + [ANY] * (7 - len(parts))
    part, vendor, product, version, update, edition, language = values
    if part not in PARTS and part != ANY:
        raise CpeError(f"'{_short(text)}': part '{parts[0]}' is not a, o or h.")
    if vendor in (ANY, NA) or product in (ANY, NA):
        raise CpeError(f"'{_short(text)}' names no vendor and product.")
    extended = [ANY] * 4
    if parts[5:6] and parts[5].startswith("~"):  # packed: ~edition~sw_edition~target_sw~…
        packed = [_uri_value(item) for item in parts[5][1:].split("~")]
        edition = packed[0] if packed else ANY
        extended = (packed[1:] + [ANY] * 4)[:4]
    return Cpe(part, vendor, product, version, update, edition, language, *extended)


def _uri_value(value: str) -> str:
    value = unquote(value).strip().lower()
    return value if value else ANY


def _short(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."
