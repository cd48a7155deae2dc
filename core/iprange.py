"""IP addresses, ranges and CIDR blocks: parse, normalise, merge, compare.

Every address lives in one 128-bit space: IPv6 as is, IPv4 mapped into
``::ffff:0:0/96``. A range is an inclusive ``(start, end)`` pair of integers
in that space, and its database form is a fixed-width key of 32 lowercase hex
digits, so "addresses in a range" is an indexed ``BETWEEN`` and "sort by IP"
is an index scan on SQLite and PostgreSQL alike.

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


def parse_address(text: str) -> int:
    """One address as an integer in the unified space; ValueError names the token."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        raise IPRangeError([f"'{text}' is not an IP address"], [text]) from None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return _to_int(address)


def ip_key(text: str) -> str:
    """The sortable 32-hex-digit key of one address."""
    return to_key(parse_address(text))


def key_to_ip(key: str) -> str:
    return str(_from_int(from_key(key)))


def normalise_ip(text: str) -> str:
    return str(_from_int(parse_address(text)))


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
        first, last = _from_int(self.start), _from_int(self.end)
        if first.version != last.version:  # an IPv6 block that spans the IPv4-mapped space
            first, last = ipaddress.IPv6Address(self.start), ipaddress.IPv6Address(self.end)
        if self.start == self.end:
            return str(first)
        blocks = list(ipaddress.summarize_address_range(first, last))
        if len(blocks) == 1:
            return str(blocks[0])
        return f"{first}-{last}"

    @classmethod
    def from_keys(cls, start_key: str, end_key: str) -> IPRange:
        return cls(from_key(start_key), from_key(end_key))


def _parse_token(token: str) -> IPRange:
    if "/" in token:
        try:
            block = ipaddress.ip_network(token, strict=False)
        except ValueError:
            raise IPRangeError([f"'{token}' is not a CIDR block"], [token]) from None
        first, last = block.network_address, block.broadcast_address
        if block.version == 6 and first.ipv4_mapped is not None and block.prefixlen >= 96:
            first, last = first.ipv4_mapped, last.ipv4_mapped
        return IPRange(_to_int(first), _to_int(last))
    if "-" in token:
        left, _, right = token.partition("-")
        start, end = parse_address(left), parse_address(right)
        if (V4_OFFSET <= start <= V4_LAST) != (V4_OFFSET <= end <= V4_LAST):
            raise IPRangeError([f"'{token}' mixes IPv4 and IPv6"], [token])
        if start > end:
            raise IPRangeError([f"'{token}' ends before it starts"], [token])
        return IPRange(start, end)
    value = parse_address(token)
    return IPRange(value, value)


def parse(text: str | Iterable[str]) -> list[IPRange]:
    """Parse addresses, ``a-b`` ranges and CIDR blocks (comma/space/newline lists).

    Returns the merged ranges, sorted. Raises IPRangeError listing every bad token.
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


def merge(ranges: Iterable[IPRange]) -> list[IPRange]:
    """Sorted, non-overlapping, non-adjacent ranges covering the same addresses."""
    merged: list[IPRange] = []
    for r in sorted(ranges):
        if merged and r.start <= merged[-1].end + 1:
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


def covers(space: Iterable[IPRange], ranges: Iterable[IPRange]) -> bool:
    return not subtract(ranges, space)


def format_ranges(ranges: Iterable[IPRange]) -> str:
    """The normalised text form: merged, sorted, comma separated."""
    return ", ".join(str(r) for r in merge(ranges))


def count(ranges: Iterable[IPRange]) -> int:
    return sum(r.size for r in merge(ranges))


def iter_addresses(ranges: Iterable[IPRange], limit: int) -> list[str]:
    """The addresses themselves, at most ``limit`` of them.

    Only the scan engine calls this, for the addresses it actually probes.
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
