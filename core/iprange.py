"""IP addresses, ranges and CIDR blocks: parse, normalise, merge, compare.

Every address lives in one 128-bit space: IPv6 as is, IPv4 mapped into
``::ffff:0:0/96``. A range is an inclusive ``(start, end)`` pair of integers
in that space, and its database form is a fixed-width key of 32 lowercase hex
digits, so "addresses in a range" is an indexed ``BETWEEN`` and "sort by IP"
is an index scan on SQLite and PostgreSQL alike.

IPv4 and IPv6 are kept apart: every range is of one family. An IPv4-mapped
IPv6 address (``::ffff:10.0.0.1``) *is* the IPv4 address (``10.0.0.1``), so
an IPv6 block or range that covers part of ``::ffff:0:0/96`` (``::/0``,
``::/64``, ``::ffff:0:0/95``, ``::1-::1:0:0:0``) would hold IPv4 addresses
too. ``parse`` refuses such input instead of splitting it: a user who types
``::/0`` means "all of IPv6", and an address space is what a network may
scan, so silently adding every IPv4 address would be the most surprising
answer; silently dropping the mapped part would store something other than
what was typed. The message says why and spells out what to type instead:
the IPv6 part (``::-::fffe:ffff:ffff, ::1:0:0:0-ffff:...``) and, only if it
is meant, the IPv4 part (``0.0.0.0/0``). ``merge`` (and so ``intersect``,
``subtract``, ``format_ranges``) never joins an IPv6 range to an IPv4 one,
even where their integers touch (``::fffe:ffff:ffff`` / ``0.0.0.0`` and
``255.255.255.255`` / ``::1:0:0:0``), and splits any range built by hand
across the boundary, so no caller (the scan engine's target list above all)
ever gets a range whose ends are of different families.

Nothing here enumerates a range: a /8 or an IPv6 /64 is two integers.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

V4_OFFSET = 0xFFFF << 32  # ::ffff:0.0.0.0
V4_LAST = V4_OFFSET + 0xFFFFFFFF
KEY_WIDTH = 32
MAPPED_BLOCK = "::ffff:0:0/96"

_SPLIT = re.compile(r"[,\s]+")


class IPRangeError(ValueError):
    """Input that is not an address, range or block. ``tokens`` names the bad ones."""

    def __init__(self, messages: list[str], tokens: list[str]):
        self.messages = messages
        self.tokens = tokens
        super().__init__("; ".join(messages))


def _to_int(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    if address.version == 4:
        return V4_OFFSET + int(address)
    return int(address)


def _from_int(value: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if V4_OFFSET <= value <= V4_LAST:
        return ipaddress.IPv4Address(value - V4_OFFSET)
    return ipaddress.IPv6Address(value)


def to_key(value: int) -> str:
    return f"{value:0{KEY_WIDTH}x}"


def from_key(key: str) -> int:
    return int(key, 16)


def _ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise IPRangeError([f"'{text}' is not an IP address"], [text]) from None


def _unified(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return _to_int(address)


def parse_address(text: str) -> int:
    """One address as an integer in the unified space; ValueError names the token."""
    return _unified(_ip_address(text))


def ip_key(text: str) -> str:
    """The sortable 32-hex-digit key of one address."""
    return to_key(parse_address(text))


def key_to_ip(key: str) -> str:
    return str(_from_int(from_key(key)))


def normalise_ip(text: str) -> str:
    return str(_from_int(parse_address(text)))


def ip_and_key(text: str) -> tuple[str, str]:
    """``(normalise_ip(text), ip_key(text))``, parsing the address once."""
    value = parse_address(text)
    return str(_from_int(value)), to_key(value)


def _crosses(start: int, end: int) -> bool:
    """Whether ``start..end`` holds addresses of both families."""
    return start < V4_OFFSET <= end or start <= V4_LAST < end


@dataclass(frozen=True, order=True, slots=True)
class IPRange:
    start: int
    end: int

    @property
    def version(self) -> int:
        return 4 if V4_OFFSET <= self.start <= V4_LAST else 6

    @property
    def size(self) -> int:
        return self.end - self.start + 1

    @property
    def start_key(self) -> str:
        return to_key(self.start)

    @property
    def end_key(self) -> str:
        return to_key(self.end)

    def __contains__(self, value: int) -> bool:
        return self.start <= value <= self.end

    def __str__(self) -> str:
        if _crosses(self.start, self.end):
            # parse() refuses such ranges and merge() splits them: one built by
            # hand has no single text form (ipaddress cannot summarise it).
            raise ValueError(
                f"{self.start_key}-{self.end_key} spans IPv4 and IPv6: "
                "split_families() or merge() it first"
            )
        first, last = _from_int(self.start), _from_int(self.end)
        if self.start == self.end:
            return str(first)
        blocks = list(ipaddress.summarize_address_range(first, last))
        if len(blocks) == 1:
            return str(blocks[0])
        return f"{first}-{last}"

    @classmethod
    def from_keys(cls, start_key: str, end_key: str) -> IPRange:
        return cls(from_key(start_key), from_key(end_key))


def split_families(r: IPRange) -> list[IPRange]:
    """The range's parts of one family each, in order: itself when it is of one family."""
    if not _crosses(r.start, r.end):
        return [r]
    cuts = (
        (r.start, min(r.end, V4_OFFSET - 1)),
        (max(r.start, V4_OFFSET), min(r.end, V4_LAST)),
        (max(r.start, V4_LAST + 1), r.end),
    )
    return [IPRange(first, last) for first, last in cuts if first <= last]


def _crossing_error(
    token: str, r: IPRange, why: str, example: str = "::ffff:10.0.0.1"
) -> IPRangeError:
    parts = split_families(r)
    ipv6 = ", ".join(str(p) for p in parts if p.version == 6)
    ipv4 = ", ".join(str(p) for p in parts if p.version == 4)
    return IPRangeError(
        [
            f"'{token}' {why} {MAPPED_BLOCK}, the IPv4-mapped addresses, which are IPv4 here "
            f"({example} is {normalise_ip(example)}) and kept apart from IPv6. "
            f"For its IPv6 addresses type '{ipv6}', and add '{ipv4}' only if you also "
            "mean those IPv4 addresses"
        ],
        [token],
    )


def _parse_block(token: str) -> IPRange:
    try:
        block = ipaddress.ip_network(token, strict=False)
    except ValueError:
        raise IPRangeError([f"'{token}' is not a CIDR block"], [token]) from None
    first, last = block.network_address, block.broadcast_address
    if block.version == 6 and first.ipv4_mapped is not None and block.prefixlen >= 96:
        first, last = first.ipv4_mapped, last.ipv4_mapped
    r = IPRange(_to_int(first), _to_int(last))
    if _crosses(r.start, r.end):  # an IPv6 block shorter than /96 around the mapped block
        raise _crossing_error(token, r, "covers")
    return r


def _parse_span(token: str) -> IPRange:
    left, _, right = token.partition("-")
    first, last = _ip_address(left), _ip_address(right)
    start, end = _unified(first), _unified(last)
    if first.version != last.version and _crosses(min(start, end), max(start, end)):
        raise IPRangeError([f"'{token}' mixes IPv4 and IPv6"], [token])
    if start > end:
        raise IPRangeError([f"'{token}' ends before it starts"], [token])
    if _crosses(start, end):
        # Both ends written as IPv6: one is IPv4-mapped, or the two lie
        # either side of the mapped block.
        ends = ((left, first), (right, last))
        mapped = [text.strip() for text, a in ends if a.version == 6 and a.ipv4_mapped]
        why = "reaches into" if mapped else "runs across"
        raise _crossing_error(token, IPRange(start, end), why, *mapped[:1])
    return IPRange(start, end)


def _parse_token(token: str) -> IPRange:
    if "/" in token:
        return _parse_block(token)
    if "-" in token:
        return _parse_span(token)
    value = parse_address(token)
    return IPRange(value, value)


def parse(text: str | Iterable[str]) -> list[IPRange]:
    """Parse addresses, ``a-b`` ranges and CIDR blocks (comma/space/newline lists).

    Returns the merged ranges, sorted, each of one family. Raises IPRangeError
    listing every bad token, including an IPv6 block or range that takes in
    IPv4-mapped addresses (see the module's docstring).
    """
    if isinstance(text, str):
        tokens = [t for t in _SPLIT.split(text) if t]
    else:
        tokens = [t.strip() for item in text for t in _SPLIT.split(item) if t.strip()]
    ranges, messages, bad = [], [], []
    for token in tokens:
        # "10.0.0.1 - 10.0.0.9" arrives as three tokens; the split pattern keeps
        # ranges whole only without spaces, which is the documented form.
        try:
            ranges.append(_parse_token(token))
        except IPRangeError as error:
            messages.extend(error.messages)
            bad.extend(error.tokens)
    if messages:
        raise IPRangeError(messages, bad)
    return merge(ranges)


# Where an IPv6 range and an IPv4 range may touch as integers without being neighbours.
_FAMILY_STARTS = frozenset({V4_OFFSET, V4_LAST + 1})


def _bounds(r: IPRange) -> tuple[int, int]:
    return r.start, r.end


def merge(ranges: Iterable[IPRange]) -> list[IPRange]:
    """Sorted, non-overlapping ranges covering the same addresses, each of one family.

    Neighbours are joined, except across the IPv4/IPv6 boundary: there they
    stay two ranges, and a range built across it is split.
    """
    pieces: list[IPRange] = []
    for r in ranges:
        if _crosses(r.start, r.end):
            pieces.extend(split_families(r))
        else:
            pieces.append(r)
    merged: list[IPRange] = []
    # A key, not the dataclass's own ordering: sorting 100,000 ranges by
    # generated comparisons takes seconds.
    for r in sorted(pieces, key=_bounds):
        if merged and (
            r.start <= merged[-1].end
            or (r.start == merged[-1].end + 1 and r.start not in _FAMILY_STARTS)
        ):
            if r.end > merged[-1].end:
                merged[-1] = IPRange(merged[-1].start, r.end)
        else:
            merged.append(r)
    return merged


def intersect(a: Iterable[IPRange], b: Iterable[IPRange]) -> list[IPRange]:
    """Ranges covered by both (inputs need not be merged)."""
    left, right = merge(a), merge(b)
    out, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start <= end:
            out.append(IPRange(start, end))
        if left[i].end < right[j].end:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Iterable[IPRange], b: Iterable[IPRange]) -> list[IPRange]:
    """Ranges of ``a`` not covered by ``b``."""
    out = []
    right = merge(b)
    for r in merge(a):
        start = r.start
        for cut in right:
            if cut.end < start or cut.start > r.end:
                continue
            if cut.start > start:
                out.append(IPRange(start, cut.start - 1))
            start = cut.end + 1
            if start > r.end:
                break
        if start <= r.end:
            out.append(IPRange(start, r.end))
    return out


def format_ranges(ranges: Iterable[IPRange]) -> str:
    """The normalised text form: merged, sorted, comma separated."""
    return ", ".join(str(r) for r in merge(ranges))


def count(ranges: Iterable[IPRange]) -> int:
    return sum(r.size for r in merge(ranges))


def iter_addresses(ranges: Iterable[IPRange], limit: int) -> list[str]:
    """The addresses themselves, at most ``limit`` of them, for tools that need
    each one (bench/bench_ingest.py makes results for them). The engine gives
    nmap ranges, never lists of addresses.
    """
    out: list[str] = []
    for r in merge(ranges):
        value = r.start
        while value <= r.end and len(out) < limit:
            out.append(str(_from_int(value)))
            value += 1
        if len(out) >= limit:
            break
    return out
