"""Version comparison for what services report (scans/feeds/versions.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scans.feeds.versions import compare, join_update, parse_version, version_key


@pytest.mark.parametrize(
    "older, newer",
    [
        # OpenSSH portable releases: the p-level is a later release of the number.
        ("4.3p1", "4.4"),
        ("4.4", "4.4p1"),
        ("7.4", "7.4p1"),
        ("7.4p1", "7.4p2"),
        ("7.4p1", "8.5p1"),
        ("8.5p1", "9.7p1"),
        ("9.7p1", "9.8"),
        ("9.8", "9.8p1"),
        # Numbers compare as numbers.
        ("2.4.9", "2.4.49"),
        ("2.4.49", "2.4.50"),
        ("2.4.50", "2.4.100"),
        ("1.18.0", "1.20.1"),
        ("0.6.18", "1.18.0"),
        ("1.19.3.1", "1.19.3.2"),
        # OpenSSL's letter releases.
        ("1.1.1", "1.1.1k"),
        ("1.1.1k", "1.1.1l"),
        ("1.1.1w", "1.1.2"),
        ("1.0.2z", "1.0.2za"),
        ("1.0.2za", "1.0.2zb"),
        # Pre-releases come before their release.
        ("2.0.0-rc1", "2.0.0"),
        ("2.0.0-rc1", "2.0.0-rc2"),
        ("2.0.0-beta2", "2.0.0-rc1"),
        ("2.0.0-alpha", "2.0.0-beta"),
        ("2.0.0-dev", "2.0.0-alpha"),
        ("1.0a1", "1.0b1"),
        ("1.0b2", "1.0"),
        ("1.9.9", "2.0.0-rc1"),
        # BIND's patch levels.
        ("9.11.5", "9.11.5-P4"),
        ("9.11.5-P4", "9.11.5-P5"),
        ("9.11.5-P5", "9.11.6"),
        # Distribution packages compare by their upstream part.
        ("8.0.32-0ubuntu0.20.04.2", "8.0.33"),
        ("7.4p1-10+deb9u7", "7.5"),
    ],
)
def test_order(older, newer):
    assert compare(older, newer) == -1
    assert compare(newer, older) == 1
    assert parse_version(older) < parse_version(newer)


@pytest.mark.parametrize(
    "one, other",
    [
        ("1.18.0", "1.18"),
        ("2.0", "2.0.0.0"),
        ("2.0-rc1", "2.0.0-rc1"),
        ("8.0.32-0ubuntu0.20.04.2", "8.0.32"),
        ("2.4.6-97.el7", "2.4.6"),
        ("1.2.3-r0", "1.2.3"),  # Alpine's package revision
        ("1.2.3+build.5", "1.2.3"),
        ("1:8.9p1-3ubuntu0.10", "8.9p1"),  # Debian epoch and revision
        ("v1.2.3", "1.2.3"),
        ("5.7.33-log", "5.7.33"),  # MySQL's "-log" says the binary log is on
        ("9.11.5-P4-5.1+deb10u5-Debian", "9.11.5-P4"),
        ("7.4p1 Debian 10+deb9u7", "7.4p1"),  # nmap's version field: the first word
        ("OpenSSL 1.1.1k", None),
    ],
)
def test_equal(one, other):
    if other is None:
        assert parse_version(one) is None
    else:
        assert compare(one, other) == 0
        assert parse_version(one) == parse_version(other)
        assert hash(parse_version(one)) == hash(parse_version(other))


@pytest.mark.parametrize(
    "text", ["", "   ", "-", "*", "unknown", "3.X", "2.4.x", "3.X - 4.X", "4.0 - 4.5", None]
)
def test_no_version(text):
    """Nothing to compare, so nothing will be matched on it."""
    assert parse_version(text) is None
    assert version_key(text or "") is None


def test_not_a_version_is_refused_by_compare():
    with pytest.raises(ValueError, match="'unknown'"):
        compare("unknown", "1.0")


def test_what_is_kept_aside():
    parsed = parse_version("8.0.32-0ubuntu0.20.04.2")
    assert (parsed.text, parsed.distro) == ("8.0.32", "0ubuntu0.20.04.2")
    parsed = parse_version("9.11.5-P4-5.1+deb10u5-Debian")
    assert (parsed.text, parsed.distro) == ("9.11.5-P4", "5.1+deb10u5-Debian")
    assert parse_version("7.4p1 Debian 10+deb9u7").text == "7.4p1"
    assert parse_version("2.0.0-rc1").distro == ""


def test_release_is_the_version_without_its_update_label():
    assert parse_version("7.4p1").release == parse_version("7.4").key
    assert parse_version("9.11.5-P4").release == parse_version("9.11.5").key
    assert parse_version("2.0.0-rc1").release == parse_version("2.0.0").key
    # A lone letter is part of OpenSSL's version, not an update.
    assert parse_version("1.1.1k").release == parse_version("1.1.1k").key
    assert parse_version("2.4.49").release == parse_version("2.4.49").key


def test_join_update_is_the_version_with_its_cpe_update():
    assert join_update("8.5", "p1") == parse_version("8.5p1")
    assert join_update("9.11.5", "p4") == parse_version("9.11.5-P4")
    assert join_update("2.0.0", "rc1") == parse_version("2.0.0-rc1")
    assert join_update("-", "p1") is None


# --- properties ---------------------------------------------------------------------

numbers = st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=5)
labels = st.sampled_from(
    ["", "p1", "p2", "rc1", "-rc2", "-beta", "b2", "a1", "k", "l", "za", "-P4", "-alpha3", "~rc1"]
)
packaging = st.sampled_from(["", "-0ubuntu0.20.04.2", "+deb9u7", "-97.el7", "-1", "-r0"])


@st.composite
def versions(draw):
    base = ".".join(str(n) for n in draw(numbers))
    return base + draw(labels) + draw(packaging)


# Anything at all, to show that odd texts still fall into the one order.
odd = st.text(alphabet="0123456789.-_+~:abcdeprkxPXv ", min_size=1, max_size=16)
any_version = st.one_of(versions(), odd)


@given(any_version, any_version)
def test_compare_is_antisymmetric(a, b):
    if parse_version(a) is None or parse_version(b) is None:
        return
    assert compare(a, b) == -compare(b, a)


@given(any_version, any_version, any_version)
def test_compare_is_transitive(a, b, c):
    parsed = [parse_version(v) for v in (a, b, c)]
    if None in parsed:
        return
    x, y, z = sorted(parsed, key=lambda v: v.key)
    assert x <= y <= z and x <= z
    assert compare(x.text, z.text) <= 0


@given(any_version)
def test_a_version_equals_itself_and_its_packaged_form(a):
    parsed = parse_version(a)
    if parsed is None:
        return
    assert compare(a, a) == 0
    assert parse_version(parsed.text) == parsed  # the upstream part alone compares the same


@given(st.lists(versions(), min_size=2, max_size=8))
def test_sorting_agrees_with_compare(texts):
    ordered = sorted(texts, key=lambda t: parse_version(t).key)
    for first, second in zip(ordered, ordered[1:], strict=False):
        assert compare(first, second) <= 0


@given(numbers, numbers)
def test_plain_numbers_order_like_integer_tuples(a, b):
    def trimmed(values):
        values = list(values)
        while values and values[-1] == 0:
            values.pop()
        return values

    expected = (trimmed(a) > trimmed(b)) - (trimmed(a) < trimmed(b))
    assert compare(".".join(map(str, a)), ".".join(map(str, b))) == expected


@given(numbers, st.integers(min_value=1, max_value=9))
def test_release_sits_between_its_pre_releases_and_its_patch_levels(base, n):
    release = ".".join(map(str, base))
    following = ".".join(map(str, [*base[:-1], base[-1] + 1]))
    chain = [f"{release}-alpha{n}", f"{release}-beta{n}", f"{release}-rc{n}", release]
    chain += [f"{release}p{n}", f"{release}p{n + 1}", following]
    for first, second in zip(chain, chain[1:], strict=False):
        assert compare(first, second) == -1, (first, second)
