"""CPE names: NVD's 2.3 formatted strings and nmap's 2.2 URIs (scans/feeds/cpe.py)."""

import pytest

from scans.feeds.cpe import ANY, NA, Cpe, CpeError, has_wildcard, parse_cpe


def test_formatted_string():
    cpe = parse_cpe("cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*")
    assert cpe == Cpe("a", "openbsd", "openssh", "8.5", "p1")
    assert cpe.key == ("openbsd", "openssh")
    assert cpe.edition == cpe.other == ANY


def test_any_and_not_applicable_stay_apart():
    """openssh:9.8:- is 9.8 without an update, openssh:7.4:* 7.4 with any update."""
    assert parse_cpe("cpe:2.3:a:openbsd:openssh:9.8:-:*:*:*:*:*:*").update == NA
    assert parse_cpe("cpe:2.3:a:openbsd:openssh:7.4:*:*:*:*:*:*:*").update == ANY
    assert parse_cpe("cpe:2.3:h:linksys:e2000:-:*:*:*:*:*:*:*").version == NA


def test_quoted_characters():
    cpe = parse_cpe("cpe:2.3:a:jenkins:pipeline\\:_groovy:2.61:*:*:*:*:jenkins:*:*")
    assert (cpe.product, cpe.version, cpe.target_sw) == ("pipeline:_groovy", "2.61", "jenkins")
    cpe = parse_cpe("cpe:2.3:a:\\@thi.ng\\/egf:egf:0.2.0:*:*:*:*:node.js:*:*")
    assert cpe.vendor == "@thi.ng/egf"
    assert parse_cpe("cpe:2.3:a:microsoft:.net_framework:4.8:*:*:*:*:*:*:*").product == (
        ".net_framework"
    )


def test_wildcards_inside_a_value_and_quoted_ones():
    assert has_wildcard(parse_cpe("cpe:2.3:a:vendor:product:1.2*:*:*:*:*:*:*:*").version)
    assert not has_wildcard(parse_cpe("cpe:2.3:a:vendor:product:1.2\\*:*:*:*:*:*:*:*").version)
    assert not has_wildcard(ANY)


def test_case_is_ignored():
    assert parse_cpe("CPE:2.3:A:Apache:HTTP_Server:2.4.49:*:*:*:*:*:*:*") == parse_cpe(
        "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*"
    )


def test_formatted_round_trip():
    for text in (
        "cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*",
        "cpe:2.3:a:jenkins:pipeline\\:_groovy:2.61:*:*:*:*:jenkins:*:*",
        "cpe:2.3:o:canonical:ubuntu_linux:22.04:*:*:*:lts:*:*:*",
    ):
        assert parse_cpe(text).formatted() == text
        assert parse_cpe(parse_cpe(text).formatted()) == parse_cpe(text)


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("cpe:/a:openbsd:openssh:7.4p1", Cpe("a", "openbsd", "openssh", "7.4p1")),
        ("cpe:/a:igor_sysoev:nginx", Cpe("a", "igor_sysoev", "nginx")),
        ("cpe:/a:igor_sysoev:nginx:", Cpe("a", "igor_sysoev", "nginx")),
        ("cpe:/o:linux:linux_kernel:2.6", Cpe("o", "linux", "linux_kernel", "2.6")),
        ("cpe:/a:Apache:HTTP_Server:2.4.49", Cpe("a", "apache", "http_server", "2.4.49")),
        ("cpe:/a:isc:bind:9.11.5-P4", Cpe("a", "isc", "bind", "9.11.5-p4")),
        ("cpe:/a:vendor%21:prod%3aname:1.0", Cpe("a", "vendor!", "prod:name", "1.0")),
        ("cpe:/a:microsoft:iis:7.5:-", Cpe("a", "microsoft", "iis", "7.5", NA)),
        (
            "cpe:/a:vendor:product:1.0:u1:~ed~sw~tsw~thw~other:en",
            Cpe("a", "vendor", "product", "1.0", "u1", "ed", "en", "sw", "tsw", "thw", "other"),
        ),
    ],
)
def test_nmap_uri(uri, expected):
    assert parse_cpe(uri) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("cpe:2.3:a:openbsd:openssh", "has 5 parts; a CPE 2.3 name has 13"),
        ("cpe:2.3:x:openbsd:openssh:1:*:*:*:*:*:*:*", "part 'x' is not a, o or h"),
        ("cpe:2.3:a:::1:*:*:*:*:*:*:*", "the vendor is empty"),
        ("cpe:2.3:a:openbsd::1:*:*:*:*:*:*:*", "the product is empty"),
        ("cpe:/a:openbsd", "names no vendor and product"),
        ("cpe:/a:v:p:1:2:3:4:5", "has 8 parts"),
        ("openssh 7.4", "is not a CPE name"),
        ("", "is not a CPE name"),
    ],
)
def test_not_a_cpe_name(text, message):
    with pytest.raises(CpeError, match=message):
        parse_cpe(text)


def test_not_a_string():
    with pytest.raises(CpeError, match="is not a CPE name"):
        parse_cpe(None)
