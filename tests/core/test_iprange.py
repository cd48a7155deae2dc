"""The IP-range module against Python's ipaddress, by example and by property."""

import ipaddress

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
        assert iprange.covers(space, inside)
        assert not iprange.covers(space, outside)


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


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_key_order_is_numeric_order_for_ipv6(value):
    address = ipaddress.IPv6Address(value)
    if address.ipv4_mapped is not None:
        return
    key = iprange.ip_key(str(address))
    assert iprange.from_key(key) == value
    assert iprange.key_to_ip(key) == str(address)


@given(v4_ranges, v4_ranges, v4)
def test_intersect_and_subtract_match_set_logic(a, b, probe):
    ra, rb = iprange.parse(as_text(a)), iprange.parse(as_text(b))
    both = as_set(iprange.intersect(ra, rb))
    only_a = as_set(iprange.subtract(ra, rb))
    assert contains(both, probe) == (contains(a, probe) and contains(b, probe))
    assert contains(only_a, probe) == (contains(a, probe) and not contains(b, probe))


def test_iprange_is_hashable_value():
    assert {IPRange(1, 2), IPRange(1, 2)} == {IPRange(1, 2)}
