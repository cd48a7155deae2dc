"""A host's service inventory against NVD's configurations (scans/feeds/matcher.py)."""

import io
import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scans.feeds import nvd, open_feed
from scans.feeds.matcher import (
    PRODUCT_ALIASES,
    PRODUCT_NAMES,
    SAME_NAMES,
    InventoryItem,
    MatchIndex,
    _Ranges,
    canonical,
    identify,
)
from scans.feeds.versions import compare, parse_version, version_key
from tests.scans import feed_samples as samples


def records(items=None) -> list[nvd.CveRecord]:
    with open_feed(io.BytesIO(samples.nvd_bytes(items))) as stream:
        return list(nvd.parse(stream))


@pytest.fixture(scope="module")
def index():
    return MatchIndex.build(records())


def ssh(version, cpe=True, product="OpenSSH"):
    cpes = [f"cpe:/a:openbsd:openssh:{version.split()[0]}"] if cpe else []
    return InventoryItem(22, "tcp", product=product, version=version, cpes=cpes)


def cves(index, *items):
    return sorted({m.cve_id for m in index.match_host(items)})


# --- CVE-2024-6387, NVD's own configuration -----------------------------------------


@pytest.mark.parametrize(
    "version, affected",
    [
        ("7.4", False),  # the brief's case: between the two ranges
        ("7.4p1", False),
        ("7.4p1 Debian 10+deb9u7", False),
        ("4.3p1", True),  # before 4.4
        ("4.4", True),  # listed on its own (4.4 without update)
        ("4.4p1", False),
        ("8.5", False),  # 8.5 itself is not listed, only 8.5p1
        ("8.5p1", True),
        ("8.6p1", True),
        ("9.7p1", True),
        ("9.7p1 Ubuntu 3ubuntu13", True),
        ("9.8", True),  # NVD lists 9.8 without update; the fix is 9.8p1
        ("9.8p1", False),
        ("9.9p1", False),
        ("", False),  # no version, no match
    ],
)
@pytest.mark.parametrize("with_cpe", [True, False])
def test_regresshion(index, version, affected, with_cpe):
    item = ssh(version, cpe=with_cpe and bool(version))
    assert ("CVE-2024-6387" in cves(index, item)) is affected


@pytest.mark.parametrize(
    "version, affected",
    [("4.3p1", True), ("4.4p1", False), ("7.4", False), ("8.4p1", False), ("8.5p1", True),
     ("9.7p1", True), ("9.8p1", False)],
)  # fmt: skip
def test_regresshion_written_with_portable_bounds(version, affected):
    """The same CVE as the brief states it: before 4.4p1, 8.5p1 up to (excluding) 9.8p1."""
    item = samples.cve(
        "CVE-2024-6387",
        samples.criterion("cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*", versionEndExcluding="4.4p1"),
        samples.criterion(
            "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*",
            versionStartIncluding="8.5p1",
            versionEndExcluding="9.8p1",
        ),
    )
    index = MatchIndex.build(records([item]))
    assert bool(cves(index, ssh(version))) is affected


def test_the_evidence_and_results_text(index):
    (match,) = index.match_host([ssh("8.5p1")])
    assert match.evidence == "OpenSSH 8.5p1 reported by the service on 22/tcp"
    assert (match.port, match.protocol, match.version) == (22, "tcp", "8.5p1")
    assert match.product == "openbsd:openssh"
    assert match.criterion.criteria == "cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*"
    assert match.caveats == ()
    assert match.results() == (
        "OpenSSH 8.5p1 reported by the service on 22/tcp.\n"
        "NVD lists as affected: openbsd openssh 8.5 update p1."
    )


def test_a_distribution_build_says_fixes_may_be_backported(index):
    (match,) = index.match_host([ssh("9.7p1 Ubuntu 3ubuntu13")])
    assert match.caveats == (
        "distribution build (Ubuntu): distributions backport fixes without changing the "
        "upstream version, so check the package's changelog",
    )


# --- products nmap and NVD name differently -----------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        InventoryItem(80, "tcp", "nginx", "1.18.0", cpes=["cpe:/a:igor_sysoev:nginx:1.18.0"]),
        InventoryItem(80, "tcp", "nginx", "1.18.0"),  # no CPE: nmap's product name
        InventoryItem(80, "tcp", banner="HTTP/1.1 200 OK\r\nServer: nginx/1.18.0\r\n\r\n"),
        InventoryItem(80, "tcp", cpes=["cpe:2.3:a:nginx:nginx:1.18.0:*:*:*:*:*:*:*"]),
    ],
)
def test_nginx_under_its_three_vendor_names(index, item):
    """NVD lists CVE-2021-23017 under f5:nginx; nmap says igor_sysoev:nginx."""
    assert cves(index, item) == ["CVE-2021-23017"]


@pytest.mark.parametrize(
    "version, affected",
    [("0.6.17", False), ("0.6.18", True), ("1.18.0", True), ("1.20.0", True), ("1.20.1", False)],
)
def test_nginx_range_ends(index, version, affected):
    item = InventoryItem(443, "tcp", "nginx", version, cpes=[f"cpe:/a:igor_sysoev:nginx:{version}"])
    assert bool(cves(index, item)) is affected


@pytest.mark.parametrize(
    "nmap_cpe, nvd_criteria",
    [
        # CPEs as nmap 7.93's nmap-service-probes prints them, criteria as NVD writes them.
        ("cpe:/a:vsftpd:vsftpd:2.3.4", "cpe:2.3:a:vsftpd_project:vsftpd:2.3.4:*:*:*:*:*:*:*"),
        ("cpe:/a:vsftpd:vsftpd:2.3.4", "cpe:2.3:a:beasts:vsftpd:2.3.4:*:*:*:*:*:*:*"),
        ("cpe:/a:mortbay:jetty:9.4.31", "cpe:2.3:a:eclipse:jetty:9.4.31:*:*:*:*:*:*:*"),
        ("cpe:/a:redislabs:redis:6.0.9", "cpe:2.3:a:redis:redis:6.0.9:*:*:*:*:*:*:*"),
        ("cpe:/a:mysql:mysql:5.7.33", "cpe:2.3:a:oracle:mysql:5.7.33:*:*:*:*:*:*:*"),
        (
            "cpe:/a:microsoft:internet_information_services:7.5",
            "cpe:2.3:a:microsoft:iis:7.5:*:*:*:*:*:*:*",
        ),
    ],
)
def test_nmaps_names_reach_nvds(nmap_cpe, nvd_criteria):
    index = MatchIndex.build(
        records([samples.cve("CVE-2011-2523", samples.criterion(nvd_criteria))])
    )
    assert cves(index, InventoryItem(21, "tcp", cpes=[nmap_cpe])) == ["CVE-2011-2523"]


def test_one_match_per_port_when_a_cve_lists_the_product_under_two_names():
    item = samples.cve(
        "CVE-2024-2001",
        samples.criterion("cpe:2.3:a:nginx:nginx:*:*:*:*:*:*:*:*", versionEndExcluding="1.25"),
        samples.criterion("cpe:2.3:a:f5:nginx:*:*:*:*:*:*:*:*", versionEndExcluding="1.25"),
    )
    index = MatchIndex.build(records([item]))
    matches = index.match_host(
        [
            InventoryItem(80, "tcp", "nginx", "1.18.0"),
            InventoryItem(8080, "tcp", "nginx", "1.18.0"),
        ]
    )
    assert [(m.cve_id, m.port) for m in matches] == [("CVE-2024-2001", 80), ("CVE-2024-2001", 8080)]


def test_apache_exact_version(index):
    def httpd(version):
        return InventoryItem(
            80, "tcp", "Apache httpd", version, cpes=[f"cpe:/a:apache:http_server:{version}"]
        )

    assert cves(index, httpd("2.4.49")) == ["CVE-2021-41773"]
    assert cves(index, httpd("2.4.48")) == []
    assert cves(index, httpd("2.4.50")) == []


@pytest.mark.parametrize(
    "product, version, cpes, expected",
    [
        ("MySQL", "5.7.33-0ubuntu0.18.04.1", ["cpe:/a:mysql:mysql:5.7.33-0ubuntu0.18.04.1"],
         ["CVE-2024-3001"]),
        ("MySQL", "5.7.33", [], ["CVE-2024-3001"]),
        ("MySQL", "5.7.44", [], []),
        # MariaDB answering the MySQL protocol is MariaDB, not MySQL 5.5.5.
        ("MySQL", "5.5.5-10.3.27-MariaDB-0+deb10u1",
         ["cpe:/a:mysql:mysql:5.5.5-10.3.27-mariadb-0+deb10u1"], ["CVE-2024-3002"]),
        ("MySQL", "5.5.5-10.3.39-MariaDB", [], []),
    ],
)  # fmt: skip
def test_mysql_is_oracles_and_mariadb_is_not_mysql(product, version, cpes, expected):
    mysql = samples.cve(
        "CVE-2024-3001",
        samples.criterion(
            "cpe:2.3:a:oracle:mysql:*:*:*:*:*:*:*:*",
            versionStartIncluding="5.5.0",
            versionEndIncluding="5.7.43",
        ),
    )
    mariadb = samples.cve(
        "CVE-2024-3002",
        samples.criterion(
            "cpe:2.3:a:mariadb:mariadb:*:*:*:*:*:*:*:*",
            versionStartIncluding="10.3.0",
            versionEndExcluding="10.3.39",
        ),
    )
    index = MatchIndex.build(records([mysql, mariadb]))
    assert cves(index, InventoryItem(3306, "tcp", product, version, cpes=cpes)) == expected


def test_every_alias_group_is_one_product():
    for group in PRODUCT_ALIASES:
        assert {canonical(name) for name in group} == {group[0]}
    for name in SAME_NAMES:
        assert canonical(name) == name


def test_every_product_name_leads_to_a_known_product():
    """nmap's product names go to a name NVD uses (one of an alias group, or one
    nmap and NVD share)."""
    known = set(SAME_NAMES) | {name for group in PRODUCT_ALIASES for name in group}
    assert set(PRODUCT_NAMES.values()) <= known


# --- version ranges and CPE parts ---------------------------------------------------


def one_criterion(**bounds):
    version = bounds.pop("version", "*")
    update = bounds.pop("update", "*")
    item = samples.cve(
        "CVE-2024-4001",
        samples.criterion(f"cpe:2.3:a:vendor:server:{version}:{update}:*:*:*:*:*:*", **bounds),
    )
    return MatchIndex.build(records([item]), **bounds.pop("options", {}))


def server(version):
    return InventoryItem(8000, "tcp", cpes=[f"cpe:/a:vendor:server:{version}"])


@pytest.mark.parametrize(
    "bounds, version, affected",
    [
        ({"versionStartIncluding": "2.0"}, "2.0", True),
        ({"versionStartIncluding": "2.0"}, "1.9.9", False),
        ({"versionStartExcluding": "2.0"}, "2.0", False),
        ({"versionStartExcluding": "2.0"}, "2.0.1", True),
        ({"versionEndIncluding": "2.4"}, "2.4", True),
        ({"versionEndIncluding": "2.4"}, "2.4.0", True),
        ({"versionEndIncluding": "2.4"}, "2.4.1", False),
        ({"versionEndExcluding": "2.4"}, "2.4", False),
        ({"versionEndExcluding": "2.4"}, "2.4-rc1", True),
        ({"versionEndExcluding": "2.4"}, "2.3.99", True),
        ({"versionStartIncluding": "2.0", "versionEndExcluding": "2.4"}, "2.2", True),
        ({"versionStartIncluding": "2.0", "versionEndExcluding": "2.4"}, "2.4.1", False),
        ({"versionStartIncluding": "2.0", "versionEndExcluding": "2.4"}, "1.0", False),
        ({"versionStartExcluding": "2.0", "versionEndIncluding": "2.4"}, "2.0", False),
        ({"versionStartExcluding": "2.0", "versionEndIncluding": "2.4"}, "2.4", True),
        ({"versionEndExcluding": "2.4"}, "-", False),  # no version
        ({"versionEndExcluding": "2.4"}, "unknown", False),
    ],
)
def test_range_ends(bounds, version, affected):
    assert bool(cves(one_criterion(**bounds), server(version))) is affected


@pytest.mark.parametrize(
    "version, update, reported, affected",
    [
        ("7.4", "*", "7.4", True),  # any update
        ("7.4", "*", "7.4p1", True),
        ("7.4", "*", "7.5", False),
        ("9.8", "-", "9.8", True),  # no update
        ("9.8", "-", "9.8p1", False),
        ("8.5", "p1", "8.5p1", True),  # that update
        ("8.5", "p1", "8.5p2", False),
        ("8.5", "p1", "8.5", False),
        ("1.1.1", "*", "1.1.1k", False),  # OpenSSL's letter is the version, not an update
        ("1.1.1k", "*", "1.1.1k", True),
        ("1.2.*", "*", "1.2.7", True),  # a wildcard inside the version
        ("1.2.*", "*", "1.3.0", False),
    ],
)
def test_exact_versions_and_update_parts(version, update, reported, affected):
    index = one_criterion(version=version, update=update)
    assert bool(cves(index, server(reported))) is affected


@pytest.mark.parametrize(
    "reported, affected", [("2.0", True), ("2.0.0", True), ("2.5", False), ("0.9", False)]
)
def test_a_range_on_a_named_version_needs_both(reported, affected):
    index = one_criterion(version="2.0", versionStartIncluding="1.0", versionEndExcluding="3.0")
    assert bool(cves(index, server(reported))) is affected
    outside = one_criterion(version="5.0", versionStartIncluding="1.0", versionEndExcluding="3.0")
    assert cves(outside, server("5.0")) == []


@pytest.mark.parametrize("version", ["*", "-"])
def test_every_version_matches_nothing_unless_asked(version):
    assert cves(one_criterion(version=version), server("2.0")) == []
    everything = one_criterion(version=version, options={"every_version": True})
    (match,) = everything.match_host([server("2.0")])
    assert "NVD lists every version of the product as affected" in match.caveats
    assert everything.match_host([server("unknown")]) == []  # still needs a version


def test_a_bound_that_is_no_version_matches_nothing():
    index = one_criterion(versionEndExcluding="unspecified")
    assert index.stats.unreadable == 1
    assert cves(index, server("1.0")) == []


def test_operating_system_cpes_on_a_service_are_not_the_service():
    item = samples.cve(
        "CVE-2024-4002",
        samples.criterion("cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*", versionEndExcluding="6"),
    )
    index = MatchIndex.build(records([item]))
    service = InventoryItem(
        22,
        "tcp",
        "OpenSSH",
        "7.4",
        cpes=["cpe:/a:openbsd:openssh:7.4", "cpe:/o:linux:linux_kernel:4.9"],
    )
    assert cves(index, service) == []


def test_a_cpe_without_version_takes_the_services_version_only_when_alone():
    item = samples.cve(
        "CVE-2024-4003",
        samples.criterion("cpe:2.3:a:php:php:*:*:*:*:*:*:*:*", versionEndExcluding="7.4.4"),
    )
    index = MatchIndex.build(records([item]))
    alone = InventoryItem(80, "tcp", "PHP", "7.4.3", cpes=["cpe:/a:php:php"])
    beside = InventoryItem(
        80,
        "tcp",
        "Apache httpd",
        "2.4.41",
        cpes=["cpe:/a:apache:http_server:2.4.41", "cpe:/a:php:php"],
    )
    assert cves(index, alone) == ["CVE-2024-4003"]
    assert cves(index, beside) == []  # 2.4.41 is Apache's version, not PHP's


@pytest.mark.parametrize(
    "item, key, version",
    [
        (ssh("7.4p1 Debian 10+deb9u7", cpe=False), "openbsd:openssh", "7.4p1"),
        (InventoryItem(21, "tcp", banner="220 (vsFTPd 3.0.3)\r\n"), "vsftpd:vsftpd", "3.0.3"),
        (InventoryItem(22, "tcp", banner="SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n"),
         "openbsd:openssh", "8.9p1"),
        (InventoryItem(80, "tcp", "Microsoft IIS httpd", "10.0"),
         "microsoft:internet_information_services", "10.0"),
        (InventoryItem(80, "tcp", cpes=["cpe:/a:microsoft:iis:7.5"]),
         "microsoft:internet_information_services", "7.5"),
        (InventoryItem(8080, "tcp", "Jetty", "9.4.31.v20200723",
                       cpes=["cpe:/a:mortbay:jetty:9.4.31"]), "mortbay:jetty", "9.4.31"),
        (InventoryItem(6379, "tcp", "Redis key-value store", "6.0.16"),
         "redislabs:redis", "6.0.16"),
        (InventoryItem(445, "tcp", "Samba smbd", "3.X - 4.X"), "samba:samba", None),
        (InventoryItem(8009, "tcp", "Apache Tomcat/Coyote JSP engine", "1.1"), None, None),
        (InventoryItem(80, "tcp", "Unknown thing", "1.0", cpes=["not a cpe"]), None, None),
    ],
)  # fmt: skip
def test_identify(item, key, version):
    found = identify(item)
    if key is None:
        assert found == ()
        return
    (software,) = found
    assert software.key == key
    assert (software.version.text if software.version else None) == version


# --- configurations: platforms, several products, changes ---------------------------


def test_a_platform_condition_is_reported_not_checked():
    item = samples.cve(
        "CVE-2024-5001",
        operator="AND",
        nodes=[
            samples.node(
                samples.criterion(
                    "cpe:2.3:a:php:php:*:*:*:*:*:*:*:*", versionStartIncluding="8.1.0",
                    versionEndExcluding="8.1.29",
                )
            ),
            samples.node(
                samples.criterion("cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*", False)
            ),
        ],
    )  # fmt: skip
    index = MatchIndex.build(records([item]))
    (match,) = index.match_host([InventoryItem(80, "tcp", "PHP", "8.1.20")])
    assert match.caveats == (
        "platform condition not checked: on cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*",
    )


def test_a_rule_of_two_products_needs_both_on_the_host():
    item = samples.cve(
        "CVE-2024-5002",
        nodes=[
            samples.node(
                samples.criterion("cpe:2.3:a:apache:http_server:2.4.41:*:*:*:*:*:*:*"),
                samples.criterion(
                    "cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*", versionEndExcluding="1.1.1k"
                ),
                operator="AND",
            )
        ],
    )
    index = MatchIndex.build(records([item]))
    httpd = InventoryItem(443, "tcp", "Apache httpd", "2.4.41")
    openssl = InventoryItem(4433, "tcp", "OpenSSL", "1.1.1f")
    assert cves(index, httpd) == []
    assert cves(index, openssl) == []
    (match,) = index.match_host([httpd, openssl])
    assert (match.cve_id, match.port) == ("CVE-2024-5002", 443)
    assert match.caveats == ("together with OpenSSL 1.1.1f on 4433/tcp",)


def test_a_changed_record_replaces_the_old_and_a_rejected_one_removes_it():
    """What re-evaluation after a feed import relies on: the new knowledge decides."""
    index = MatchIndex.build(records())
    assert cves(index, ssh("9.7p1")) == ["CVE-2024-6387"]
    changed = json.loads(json.dumps(samples.CVE_2024_6387))
    for match in changed["cve"]["configurations"][0]["nodes"][0]["cpeMatch"]:
        if match.get("versionEndExcluding") == "9.8":
            match["versionEndExcluding"] = "9.7"
    index.add(records([changed])[0])
    assert cves(index, ssh("9.7p1")) == []
    assert cves(index, ssh("9.6p1")) == ["CVE-2024-6387"]
    rejected = json.loads(json.dumps(samples.CVE_REJECTED))
    rejected["cve"]["id"] = "CVE-2024-6387"
    index.add(records([rejected])[0])
    assert cves(index, ssh("9.6p1")) == []
    assert len(index) == 4


def test_an_index_of_only_the_products_in_the_inventories():
    index = MatchIndex.build(records(), products=["igor_sysoev:nginx"])
    assert cves(index, InventoryItem(80, "tcp", "nginx", "1.18.0")) == ["CVE-2021-23017"]
    assert cves(index, ssh("9.7p1")) == []
    assert index.stats.products == 1 and index.stats.skipped_products > 0


def test_many_hosts_of_the_same_build_are_evaluated_once():
    index = MatchIndex.build(records())
    items = [ssh("9.7p1"), InventoryItem(80, "tcp", "nginx", "1.18.0")]
    first = [(m.cve_id, m.port) for m in index.match_host(items)]
    assert first == [("CVE-2024-6387", 22), ("CVE-2021-23017", 80)]
    for _ in range(1000):
        assert [(m.cve_id, m.port) for m in index.match_host(items)] == first
    assert index.stats.evaluated == 2


# --- the range lookup against the plain definition ----------------------------------

POOL = ["0.9", "1.0", "1.0p1", "1.1", "1.2-rc1", "1.2", "1.10", "2.0", "2.0.1", "3.0"]
POOL += [f"3.{minor}.{patch}" for minor in range(1, 4) for patch in (0, 5)] + ["4.0", "10.0"]
bound = st.one_of(st.none(), st.sampled_from(POOL))


@given(
    st.lists(st.tuples(bound, st.booleans(), bound, st.booleans()), min_size=1, max_size=80),
    st.sampled_from(POOL),
)
def test_range_lookup_agrees_with_the_definition(ranges, reported):
    """Whatever mix of open and closed ranges (and enough of them to be cut into
    blocks), the lookup finds exactly the ranges that hold the version, as
    comparing against every range would."""
    ranges = [r for r in ranges if r[0] is not None or r[2] is not None]
    assume(ranges)
    lookup = _Ranges()
    for number, (start, start_in, end, end_in) in enumerate(ranges):
        lookup.add(
            (version_key(start) if start else None, start_in,
             version_key(end) if end else None, end_in, None, number)
        )  # fmt: skip
    v = parse_version(reported)

    def holds(start, start_in, end, end_in):
        if start is not None and (
            compare(reported, start) < 0 or (compare(reported, start) == 0 and not start_in)
        ):
            return False
        return not (end is not None and (compare(reported, end) > 0 or
                                         (compare(reported, end) == 0 and not end_in)))  # fmt: skip

    expected = sorted(n for n, r in enumerate(ranges) if holds(*r))
    assert sorted(lookup.hits(v.key, v.release)) == expected
