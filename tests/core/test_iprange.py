"""The IP-range module against Python's ipaddress, by example and by property."""

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import iprange
from core.iprange import IPRange, IPRangeError


def r(text):
    return iprange.parse(text)


class TestParse:
    def test_accepts_address_range_and_block_in_one_list(self):
        ranges = r("10.0.0.1, 10.0.0.10-10.0.0.20\n10.1.0.0/24")
        assert [str(x) for x in ranges] == ["10.0.0.1", "10.0.0.10-10.0.0.20", "10.1.0.0/24"]

    def test_ipv6_address_range_and_block(self):
        ranges = r("2001:db8::1 2001:db8::10-2001:db8::20, 2001:db8:1::/64")
        assert [str(x) for x in ranges] == [
            "2001:db8::1",
            "2001:db8::10-2001:db8::20",
            "2001:db8:1::/64",
        ]

    def test_block_with_host_bits_is_normalised(self):
        assert str(r("10.0.0.77/24")[0]) == "10.0.0.0/24"

    def test_range_that_is_a_block_prints_as_block(self):
        assert str(r("10.0.0.0-10.0.0.255")[0]) == "10.0.0.0/24"

    @pytest.mark.parametrize(
        "bad, message",
        [
            ("10.0.0.300", "'10.0.0.300' is not an IP address"),
            ("10.0.0.0/33", "'10.0.0.0/33' is not a CIDR block"),
            ("10.0.0.9-10.0.0.1", "'10.0.0.9-10.0.0.1' ends before it starts"),
            ("10.0.0.1-::5", "'10.0.0.1-::5' mixes IPv4 and IPv6"),
            ("::1-10.0.0.1", "'::1-10.0.0.1' mixes IPv4 and IPv6"),
            ("example.com", "'example.com' is not an IP address"),
        ],
    )
    def test_rejects_bad_token_naming_it(self, bad, message):
        with pytest.raises(IPRangeError) as error:
            r(f"10.0.0.1, {bad}")
        assert error.value.messages == [message]
        assert error.value.tokens == [bad]

    def test_every_bad_token_is_named(self):
        with pytest.raises(IPRangeError) as error:
            r("10.0.0.300, 1.2.3.4, nope")
        assert error.value.tokens == ["10.0.0.300", "nope"]

    def test_empty_input_is_no_ranges(self):
        assert r("  \n ,") == []

    def test_ipv4_mapped_ipv6_is_the_ipv4_address(self):
        assert r("::ffff:10.0.0.1") == r("10.0.0.1")


class TestHugeRanges:
    def test_slash_8_and_ipv6_slash_64_are_one_range_each(self):
        ranges = r("10.0.0.0/8, 2001:db8::/64")
        assert len(ranges) == 2
        assert iprange.count(ranges) == 2**24 + 2**64

    def test_membership_in_ipv6_slash_32_without_enumerating(self):
        space = r("2001:db8::/32")
        inside, outside = r("2001:db8:ffff::1-2001:db8:ffff::ffff"), r("2001:db9::1")
        assert iprange.subtract(inside, space) == []
        assert iprange.subtract(outside, space) == outside


class TestKeys:
    def test_keys_sort_in_numeric_order(self):
        ips = ["10.0.0.10", "10.0.0.9", "9.255.255.255", "::1", "2001:db8::1", "10.0.1.0"]
        assert sorted(ips, key=iprange.ip_key) == [
            "::1",
            "9.255.255.255",
            "10.0.0.9",
            "10.0.0.10",
            "10.0.1.0",
            "2001:db8::1",
        ]

    def test_key_is_fixed_width_hex(self):
        assert iprange.ip_key("10.0.0.1") == "00000000000000000000ffff0a000001"
        assert len(iprange.ip_key("2001:db8::1")) == 32

    def test_key_round_trip(self):
        assert iprange.key_to_ip(iprange.ip_key("192.168.1.20")) == "192.168.1.20"


class TestSetOperations:
    def test_merge_joins_overlapping_and_adjacent(self):
        assert (
            iprange.format_ranges(
                r("10.0.0.0/25, 10.0.0.128/25, 10.0.1.5-10.0.1.9, 10.0.1.7-10.0.1.20")
            )
            == "10.0.0.0/24, 10.0.1.5-10.0.1.20"
        )

    def test_intersect(self):
        assert (
            iprange.format_ranges(iprange.intersect(r("10.0.0.0/16"), r("10.0.5.0/24, 11.0.0.0/8")))
            == "10.0.5.0/24"
        )

    def test_subtract_names_what_is_outside(self):
        outside = iprange.subtract(r("10.0.0.250-10.0.1.5, 12.0.0.1"), r("10.0.0.0/24"))
        assert iprange.format_ranges(outside) == "10.0.1.0-10.0.1.5, 12.0.0.1"


# --- properties, checked against the standard library ---------------------------------

v4 = st.integers(min_value=0, max_value=2**32 - 1)
v4_ranges = st.lists(st.tuples(v4, v4).map(sorted), min_size=0, max_size=8)


def as_text(pairs):
    return ", ".join(f"{ipaddress.IPv4Address(a)}-{ipaddress.IPv4Address(b)}" for a, b in pairs)


def as_set(ranges):
    """The ranges as a set of (start, end) intervals over plain IPv4 integers."""
    return [(x.start - iprange.V4_OFFSET, x.end - iprange.V4_OFFSET) for x in ranges]


def contains(pairs, value):
    return any(a <= value <= b for a, b in pairs)


@given(v4_ranges, v4)
def test_membership_matches_input(pairs, probe):
    merged = iprange.parse(as_text(pairs))
    assert contains(as_set(merged), probe) == contains(pairs, probe)


@given(v4_ranges)
def test_merged_ranges_are_sorted_disjoint_and_not_adjacent(pairs):
    merged = iprange.parse(as_text(pairs))
    for left, right in zip(merged, merged[1:], strict=False):
        assert left.end + 1 < right.start


@given(v4_ranges)
def test_normalised_text_parses_back_to_the_same_ranges(pairs):
    merged = iprange.parse(as_text(pairs))
    assert iprange.parse(iprange.format_ranges(merged)) == merged


@given(v4, st.integers(min_value=0, max_value=32))
def test_cidr_matches_ipaddress(address, prefix):
    block = ipaddress.ip_network(f"{ipaddress.IPv4Address(address)}/{prefix}", strict=False)
    (parsed,) = iprange.parse(f"{ipaddress.IPv4Address(address)}/{prefix}")
    assert parsed.start - iprange.V4_OFFSET == int(block.network_address)
    assert parsed.end - iprange.V4_OFFSET == int(block.broadcast_address)
    assert str(parsed) == (str(block.network_address) if prefix == 32 else str(block))


# Anywhere in the 128-bit space, with extra weight on IPv4 and on the family edges.
any_address = st.one_of(
    st.integers(min_value=0, max_value=2**128 - 1),
    st.integers(min_value=iprange.V4_OFFSET, max_value=iprange.V4_LAST),
    st.integers(min_value=iprange.V4_OFFSET - 2**16, max_value=iprange.V4_OFFSET + 2**16),
    st.integers(min_value=iprange.V4_LAST - 2**16, max_value=iprange.V4_LAST + 2**16),
    st.integers(min_value=0, max_value=2**64),
)


def written(value):
    """How a user writes the address: IPv4 in the mapped block, IPv6 elsewhere."""
    if iprange.V4_OFFSET <= value <= iprange.V4_LAST:
        return str(ipaddress.IPv4Address(value - iprange.V4_OFFSET))
    return str(ipaddress.IPv6Address(value))


@given(any_address, any_address)
def test_key_order_is_numeric_order(a, b):
    key_a, key_b = iprange.ip_key(written(a)), iprange.ip_key(written(b))
    assert (key_a < key_b) == (a < b) and (key_a == key_b) == (a == b)
    assert iprange.from_key(key_a) == a
    assert iprange.key_to_ip(key_a) == written(a)


@given(v4_ranges, v4_ranges, v4)
def test_intersect_and_subtract_match_set_logic(a, b, probe):
    ra, rb = iprange.parse(as_text(a)), iprange.parse(as_text(b))
    both = as_set(iprange.intersect(ra, rb))
    only_a = as_set(iprange.subtract(ra, rb))
    assert contains(both, probe) == (contains(a, probe) and contains(b, probe))
    assert contains(only_a, probe) == (contains(a, probe) and not contains(b, probe))


def test_iprange_is_hashable_value():
    assert {IPRange(1, 2), IPRange(1, 2)} == {IPRange(1, 2)}


# --- IPv4 and IPv6 kept apart ----------------------------------------------------------

V4_OFFSET, V4_LAST = iprange.V4_OFFSET, iprange.V4_LAST


def is_v4(value):
    return V4_OFFSET <= value <= V4_LAST


def mixes(first, last):
    """Whether first..last holds both IPv4 (mapped) and IPv6 addresses."""
    all_v4 = first >= V4_OFFSET and last <= V4_LAST
    no_v4 = last < V4_OFFSET or first > V4_LAST
    return not (all_v4 or no_v4)


def one_family(r):
    return not mixes(r.start, r.end)


def suggestions(message):
    """The IPv6 and IPv4 parts a refusal tells the user to type instead."""
    found = re.search(r"type '([^']*)', and add '([^']*)' only if", message)
    return found.group(1), found.group(2)


class TestFamiliesApart:
    @pytest.mark.parametrize(
        "block",
        [
            "::/0",
            "::/64",
            "::/80",
            "::ffff:0:0/95",
            "::fffe:0:0/95",
            "::fffe:0:0/94",
            "::ff00:0:0/88",
        ],
    )
    def test_an_ipv6_block_around_the_mapped_block_is_refused_saying_why(self, block):
        with pytest.raises(IPRangeError) as error:
            r(f"10.0.0.1, {block}")
        assert error.value.tokens == [block]
        (message,) = error.value.messages
        assert f"'{block}' covers ::ffff:0:0/96, the IPv4-mapped addresses" in message
        # What it says to type instead is exactly the block, minus or plus nothing.
        ipv6, ipv4 = suggestions(message)
        net = ipaddress.ip_network(block, strict=False)
        whole = [IPRange(int(net.network_address), int(net.broadcast_address))]
        assert r(ipv4) == [IPRange(V4_OFFSET, V4_LAST)]
        assert r(ipv6) == iprange.subtract(whole, [IPRange(V4_OFFSET, V4_LAST)])
        assert all(x.version == 6 for x in r(ipv6))

    def test_all_of_ipv6_is_refused_with_what_to_type_instead(self):
        with pytest.raises(IPRangeError) as error:
            r("::/0")
        assert error.value.messages == [
            "'::/0' covers ::ffff:0:0/96, the IPv4-mapped addresses, which are IPv4 here "
            "(::ffff:10.0.0.1 is 10.0.0.1) and kept apart from IPv6. For its IPv6 addresses "
            "type '::-::fffe:ffff:ffff, ::1:0:0:0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', "
            "and add '0.0.0.0/0' only if you also mean those IPv4 addresses"
        ]

    @pytest.mark.parametrize(
        "span, why, ipv6, ipv4",
        [
            ("::1-::ffff:10.0.0.1", "reaches into", "::1-::fffe:ffff:ffff", "0.0.0.0-10.0.0.1"),
            (
                "::ffff:10.0.0.1-::1:0:0:5",
                "reaches into",
                "::1:0:0:0-::1:0:0:5",
                "10.0.0.1-255.255.255.255",
            ),
            (
                "::fffe:ffff:ffff-::1:0:0:0",
                "runs across",
                "::fffe:ffff:ffff, ::1:0:0:0",
                "0.0.0.0/0",
            ),
        ],
    )
    def test_an_ipv6_range_into_or_across_the_mapped_block_is_refused(self, span, why, ipv6, ipv4):
        with pytest.raises(IPRangeError) as error:
            r(span)
        (message,) = error.value.messages
        assert message.startswith(f"'{span}' {why} ::ffff:0:0/96, the IPv4-mapped addresses")
        if why == "reaches into":
            assert "(::ffff:10.0.0.1 is 10.0.0.1)" in message
        assert suggestions(message) == (ipv6, ipv4)

    @pytest.mark.parametrize(
        "text, expected",
        [
            ("::ffff:0:0/96", "0.0.0.0/0"),
            ("::ffff:10.0.0.0/120", "10.0.0.0/24"),
            ("::ffff:10.0.0.1-::ffff:10.0.0.9", "10.0.0.1-10.0.0.9"),
            ("::ffff:10.0.0.1-10.0.0.9", "10.0.0.1-10.0.0.9"),
            ("::fffe:0:0/96", "::fffe:0:0/96"),
            ("::1:0:0:0/96", "::1:0:0:0/96"),
            ("::/96", "::/96"),
        ],
    )
    def test_blocks_and_ranges_of_one_family_are_accepted(self, text, expected):
        assert iprange.format_ranges(r(text)) == expected

    def test_merge_does_not_join_ipv6_to_the_ipv4_range_after_it(self):
        below = r("::fffe:0:0-::fffe:ffff:ffff")  # ends at V4_OFFSET - 1
        first = r("0.0.0.0/8")  # starts at V4_OFFSET
        assert below[0].end + 1 == first[0].start
        merged = iprange.merge(below + first)
        assert merged == below + first
        assert iprange.format_ranges(merged) == "::fffe:0:0/96, 0.0.0.0/8"

    def test_merge_does_not_join_the_last_ipv4_address_to_the_ipv6_after_it(self):
        merged = r("255.255.255.255, ::1:0:0:0, 255.255.255.254")
        assert [str(x) for x in merged] == ["255.255.255.254/31", "::1:0:0:0"]

    def test_a_range_built_across_the_boundary_is_split_by_merge(self):
        crossing = IPRange(1, V4_LAST + 5)  # ::1 .. ::1:0:0:4, as an old row might hold
        assert iprange.merge([crossing]) == [
            IPRange(1, V4_OFFSET - 1),
            IPRange(V4_OFFSET, V4_LAST),
            IPRange(V4_LAST + 1, V4_LAST + 5),
        ]
        assert iprange.count([crossing]) == crossing.size
        with pytest.raises(ValueError, match="spans IPv4 and IPv6"):
            str(crossing)

    def test_intersect_and_subtract_keep_the_families_apart(self):
        ipv6_below, ipv4 = r("::fffe:0:0/96"), r("0.0.0.0/0")
        ipv6_above = r("::1:0:0:0/96")
        everything = ipv6_below + ipv4 + ipv6_above
        assert iprange.intersect(everything, ipv4) == ipv4
        assert iprange.subtract(everything, ipv4) == ipv6_below + ipv6_above
        assert iprange.subtract(everything, ipv6_below) == ipv4 + ipv6_above
        assert iprange.intersect([IPRange(1, 2**128 - 1)], ipv4) == ipv4

    def test_the_engine_gets_one_family_per_target(self):
        """What used to reach nmap as one mixed range (a TypeError there) now
        arrives as separate IPv4 and IPv6 targets."""
        from scans.engine.nmap import nmap_targets
        from scans.engine.runner import _by_family

        touching = iprange.merge(r("::fffe:ffff:fff0-::fffe:ffff:ffff") + r("0.0.0.0/30"))
        assert nmap_targets(touching) == ["::fffe:ffff:fff0/124", "0.0.0.0/30"]
        top = r("255.255.255.252/30, ::1:0:0:0-::1:0:0:1")
        assert nmap_targets(top) == ["255.255.255.252/30", "::1:0:0:0/127"]
        with pytest.raises(IPRangeError) as error:
            r("::ffff:0:0/95")
        ipv6, ipv4 = suggestions(error.value.messages[0])
        assert nmap_targets(r(ipv6)) == ["::fffe:0:0/96"]
        assert nmap_targets(r(f"{ipv6}, {ipv4}")) == ["::fffe:0:0/96", "0.0.0.0/0"]
        legacy = [IPRange(V4_OFFSET - 4, V4_OFFSET + 3)]  # a stored row from before the fix
        assert nmap_targets(legacy) == ["::fffe:ffff:fffc/126", "0.0.0.0/30"]
        assert _by_family(touching + legacy) == [
            (False, ["0.0.0.0/30"]),
            (True, ["::fffe:ffff:fff0/124"]),
        ]


v6_block = st.tuples(any_address, st.integers(min_value=0, max_value=128))


@given(v6_block)
def test_an_ipv6_block_is_refused_or_parsed_into_one_family(block):
    value, prefix = block
    text = f"{ipaddress.IPv6Address(value)}/{prefix}"
    net = ipaddress.ip_network(text, strict=False)
    first, last = int(net.network_address), int(net.broadcast_address)
    straddles = mixes(first, last)
    try:
        (parsed,) = iprange.parse(text)
    except IPRangeError as error:
        assert straddles
        assert "::ffff:0:0/96, the IPv4-mapped addresses" in error.messages[0]
        ipv6, ipv4 = suggestions(error.messages[0])
        assert iprange.count(iprange.parse(ipv6)) + iprange.count(iprange.parse(ipv4)) == (
            net.num_addresses
        )
        return
    assert not straddles
    assert one_family(parsed)
    assert (parsed.start, parsed.end) == (first, last)


@given(any_address, any_address)
def test_an_ipv6_written_range_is_refused_or_parsed_into_one_family(a, b):
    a, b = sorted((a, b))
    text = f"{ipaddress.IPv6Address(a)}-{ipaddress.IPv6Address(b)}"
    try:
        (parsed,) = iprange.parse(text)
    except IPRangeError as error:
        assert mixes(a, b)
        assert "::ffff:0:0/96, the IPv4-mapped addresses" in error.messages[0]
        return
    assert one_family(parsed) and (parsed.start, parsed.end) == (a, b)


# Ranges of one family each (as parse makes them), crowded around the family edges.
pure_ranges = st.lists(
    st.tuples(any_address, any_address).flatmap(
        lambda pair: st.sampled_from(iprange.split_families(IPRange(*sorted(pair))))
    ),
    max_size=8,
)


def covered(ranges, value):
    return any(value in x for x in ranges)


@given(pure_ranges, pure_ranges, any_address)
def test_set_operations_never_join_or_mix_the_families(a, b, probe):
    for result, expected in (
        (iprange.merge(a), covered(a, probe)),
        (iprange.intersect(a, b), covered(a, probe) and covered(b, probe)),
        (iprange.subtract(a, b), covered(a, probe) and not covered(b, probe)),
    ):
        assert all(one_family(x) for x in result)
        assert covered(result, probe) == expected
        for left, right in zip(result, result[1:], strict=False):
            # Sorted and disjoint; touching only where the family changes.
            assert left.end < right.start
            if left.end + 1 == right.start:
                assert is_v4(left.end) != is_v4(right.start)


@given(st.tuples(any_address, any_address).map(sorted), any_address)
def test_merge_splits_a_hand_built_range_at_the_family_edges(pair, probe):
    crossing = IPRange(*pair)
    pieces = iprange.merge([crossing])
    assert all(one_family(x) for x in pieces)
    assert covered(pieces, probe) == (probe in crossing)
    assert sum(x.size for x in pieces) == crossing.size
    assert iprange.format_ranges(pieces)  # every piece has a text form


@pytest.mark.parametrize("text", ["10.0.0.5", "::ffff:10.0.0.5", "2001:DB8::1"])
def test_ip_and_key_is_the_normal_form_and_key_of_one_parse(text):
    assert iprange.ip_and_key(text) == (iprange.normalise_ip(text), iprange.ip_key(text))


def test_ip_and_key_refuses_what_ip_key_refuses():
    with pytest.raises(IPRangeError):
        iprange.ip_and_key("192.168.1.1001")
