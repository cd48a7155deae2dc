"""Versions as services report them, compared the way their makers number them.

``parse_version("8.0.32-0ubuntu0.20.04.2")`` gives a ``Version`` whose ``key``
orders every version against every other (a total order: ``key`` is a plain
tuple). The rules, in the order they apply:

1. **What is read.** The first word of the text (nmap's version field says
   ``7.4p1 Debian 10+deb9u7``: the version is ``7.4p1``), without a leading
   ``v`` and without a Debian epoch (``1:8.9p1`` is ``8.9p1``). A text that does
   not then start with a digit (``""``, ``-``, ``unknown``), a placeholder
   (nmap's ``3.X``, ``2.4.x``) and a span (``3.X - 4.X``) are no version: None,
   and nothing is matched on them (precision first).
2. **Distribution packaging is dropped**, and kept aside in ``distro``: the
   part from the first ``+`` (``+deb9u7``, ``+dfsg``, semver build metadata), and
   from the first ``-`` segment that starts with a digit (a Debian/RPM revision:
   ``-0ubuntu0.20.04.2``, ``-97.el7``, ``-1``) or names a distribution
   (``-ubuntu1``, ``-el7``, ``-r0`` of Alpine, ``-debian``). A segment that
   starts with a letter is the upstream's own (``-rc1``, ``-beta``, BIND's
   ``-P4``) and stays. So ``8.0.32-0ubuntu0.20.04.2`` compares as ``8.0.32``:
   distributions backport fixes without changing the upstream number, which a
   version cannot show; the matcher says so on its evidence (a caveat), it does
   not guess.
3. **Pieces.** The rest splits into runs of digits (numbers, compared as
   numbers: ``2.4.49`` < ``2.4.100``) and runs of letters; ``.``, ``-``, ``_``,
   ``~`` only separate. Zeros that end a run of numbers do not count
   (``1.18`` == ``1.18.0``, ``2.0-rc1`` == ``2.0.0-rc1``).
4. **Letters.** Pre-release words come *before* the release they lead to:
   ``dev`` < ``alpha`` (``a`` followed by a number) < ``beta`` (``b`` + number)
   < ``pre``/``preview``/``rc`` (``c`` + number): ``2.0.0-rc1`` < ``2.0.0``.
   Any other letters are a *later* release of the same number: OpenSSH's
   portable ``p1`` (``7.4`` < ``7.4p1`` < ``7.4p2`` < ``7.5``), OpenSSL's letter
   releases (``1.1.1`` < ``1.1.1k`` < ``1.1.1l``, ``1.0.2z`` < ``1.0.2za``),
   BIND's ``-P4``. Where a number and letters meet at the same place the number
   is the later one (``1.0.1`` > ``1.0a``). ``final``, ``release``, ``ga``,
   ``stable`` and ``log`` (MySQL's ``5.7.33-log``) say nothing and are skipped.

``release`` is the key without a trailing update label (``p1``, ``rc1``, ``P4``:
letters followed by a number, or a pre-release word): CPE names keep that label
apart (``openssh:8.5:p1``), and a CPE whose update is ``*`` means "this
version, any update". A lone letter (``1.1.1k``) is part of the version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from core.digits import ascii_digits

# Token kinds, in the order they sort at the same place in a version.
PRE, END, POST, NUMBER = 0, 1, 2, 3

PRE_RELEASE = {
    "dev": 0,
    "snapshot": 0,
    "nightly": 0,
    "alpha": 1,
    "beta": 2,
    "pre": 3,
    "preview": 3,
    "rc": 3,
    "cr": 3,
}
# Single letters that are pre-release markers only when a number follows
# (PEP 440's 1.0a1, 1.0b2, 1.0c1); alone they are a letter release (1.0.1a).
PRE_LETTERS = {"a": 1, "b": 2, "c": 3}
SILENT = {"final", "release", "ga", "stable", "log"}
DISTRO = re.compile(
    r"(?:ubuntu|debian|deb\d|el\d|fc\d|amzn|centos|rhel|suse|sles|alpine|ppa|r\d+$|mariadb)",
    re.IGNORECASE,
)
_PIECES = re.compile(r"\d+|[a-z]+")
_EPOCH = re.compile(r"^\d+:(?=\d)")
_LEADING_V = re.compile(r"^v(?:ersion)?(?=\d)", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"(?:^|[.\-_])[xX*](?=$|[.\-_+])")
SPAN_WORDS = {"-", "\u2013", "to", "or"}
_END_TOKEN = (END, 0, "")

Key = tuple[tuple[int, int, str], ...]


@dataclass(frozen=True, slots=True, eq=False)
class Version:
    """A parsed version; compares (and hashes) by ``key`` alone."""

    text: str  # the upstream version as read, original case: "7.4p1", "9.11.5-P4"
    key: Key
    release: Key  # key without the trailing update label ("7.4" of "7.4p1")
    distro: str = ""  # the packaging suffix dropped: "0ubuntu0.20.04.2", "deb9u7"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __le__(self, other: Version) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Version) -> bool:
        return self.key > other.key

    def __ge__(self, other: Version) -> bool:
        return self.key >= other.key

    def __str__(self) -> str:
        return self.text


def parse_version(value: str | None) -> Version | None:
    """The version in ``value`` (see the module's rules); None when it holds none."""
    if not value:
        return None
    words = value.split()
    if not words or (len(words) > 2 and words[1] in SPAN_WORDS):
        return None  # nmap's "3.X - 4.X": one of several versions, so none
    return _parse_word(words[0])


@lru_cache(maxsize=65536)
def _parse_word(word: str) -> Version | None:
    word = _EPOCH.sub("", _LEADING_V.sub("", word))
    if not ascii_digits(word[:1]) or _PLACEHOLDER.search(word):
        return None
    upstream, distro = split_distro(word)
    key, release = _keys(_pieces(upstream))
    return Version(upstream, key + (_END_TOKEN,), release + (_END_TOKEN,), distro)


def split_distro(word: str) -> tuple[str, str]:
    """(upstream, packaging suffix) of one version word (rule 2)."""
    upstream, plus, build = word.partition("+")
    segments = upstream.split("-")
    kept = [segments[0]]
    dropped: list[str] = []
    for index, segment in enumerate(segments[1:], start=1):
        if not segment or ascii_digits(segment[:1]) or DISTRO.match(segment):
            dropped = segments[index:]
            break
        kept.append(segment)
    suffix = "-".join(dropped)
    if plus:
        suffix = f"{suffix}+{build}" if suffix else build
    return "-".join(kept), suffix


def _pieces(upstream: str) -> list[str]:
    return _PIECES.findall(upstream.lower())


def _keys(pieces: list[str]) -> tuple[Key, Key]:
    """(key, release) tokens of the pieces, without the end marker."""
    tokens: list[tuple[int, int, str]] = []
    release_at = -1
    for index, piece in enumerate(pieces):
        if ascii_digits(piece):
            tokens.append((NUMBER, int(piece), ""))
            continue
        if piece in SILENT:
            continue
        _drop_trailing_zeros(tokens)
        number_follows = index + 1 < len(pieces) and ascii_digits(pieces[index + 1])
        if piece in PRE_RELEASE:
            token = (PRE, PRE_RELEASE[piece], "")
        elif piece in PRE_LETTERS and number_follows:
            token = (PRE, PRE_LETTERS[piece], "")
        else:
            token = (POST, 0, piece)
        if release_at < 0 and (token[0] == PRE or number_follows):
            release_at = len(tokens)
        tokens.append(token)
    _drop_trailing_zeros(tokens)
    key = tuple(tokens)
    return key, (key[:release_at] if release_at >= 0 else key)


def _drop_trailing_zeros(tokens: list[tuple[int, int, str]]) -> None:
    while tokens and tokens[-1] == (NUMBER, 0, ""):
        tokens.pop()


def version_key(value: str) -> Key | None:
    """The sort key of a version text, None when it holds no version."""
    parsed = parse_version(value)
    return parsed.key if parsed else None


def join_update(version: str, update: str) -> Version | None:
    """The version a CPE names with a specific update part: ``8.5`` + ``p1`` is
    8.5p1 (the same key as the text ``8.5p1``)."""
    base = parse_version(version)
    if base is None:
        return None
    key, release = _keys(_pieces(base.text) + _pieces(update))
    return Version(f"{base.text}{update}", key + (_END_TOKEN,), release + (_END_TOKEN,))


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as version ``a`` sorts before, with or after ``b``; ValueError
    when either holds no version."""
    first, second = parse_version(a), parse_version(b)
    if first is None or second is None:
        raise ValueError(f"Not a version: {a!r}" if first is None else f"Not a version: {b!r}")
    return (first.key > second.key) - (first.key < second.key)
