"""The Vulnerabilities list: every detection across networks, each filter,
sorting, keyset pages, the grouped view, the CSV export and the API."""

import csv
import io
import itertools
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from insights import services
from insights.vulnerabilities import (
    CSV_HEADER,
    OPEN,
    PAGE_SIZE,
    SORTS,
    Criteria,
    branches,
    csv_rows,
    cursor_for,
    detections,
    merge_statement,
    page,
    page_query,
)
from scans.models import DetectionStatus, KbSource, VulnerabilityKind
from tests.factories import (
    DetectionFactory,
    HostFactory,
    NetworkFactory,
    TagFactory,
    VulnerabilityFactory,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/vulnerabilities/"


@pytest.fixture
def estate():
    """Two overlapping networks, the same 10.0.0.5 in each, findings of every kind."""
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    globex = NetworkFactory(name="Globex", space="10.0.0.0/16")
    a = HostFactory(network=acme, ip="10.0.0.5", dns="=cmd|' /C calc'!A0")
    b = HostFactory(network=globex, ip="10.0.0.5")
    c = HostFactory(network=globex, ip="10.0.0.9")
    dmz = TagFactory(name="dmz")
    c.tags.add(dmz)
    kb = {
        "tls": VulnerabilityFactory(
            qid=993001, severity=4, title="Weak TLS", cves=["CVE-2014-3566"]
        ),
        "telnet": VulnerabilityFactory(qid=993002, severity=5, title="Telnet open"),
        "banner": VulnerabilityFactory(
            qid=993003, severity=1, title="Open ports", kind=VulnerabilityKind.INFO
        ),
        "nessus": VulnerabilityFactory(
            qid=1_000_000_001,
            severity=3,
            title='=HYPERLINK("http://x")',
            source=KbSource.NESSUS,
            external_id="19506",
        ),
    }
    now = timezone.now()
    rows = {
        "a_tls": DetectionFactory(host=a, vulnerability=kb["tls"], port=443, protocol="tcp"),
        "b_telnet": DetectionFactory(host=b, vulnerability=kb["telnet"], port=23, protocol="tcp"),
        "c_tls": DetectionFactory(
            host=c,
            vulnerability=kb["tls"],
            port=443,
            protocol="tcp",
            last_found=now - timedelta(days=3),
        ),
        "c_banner": DetectionFactory(host=c, vulnerability=kb["banner"]),
        "a_fixed": DetectionFactory(
            host=a, vulnerability=kb["telnet"], status=DetectionStatus.FIXED, fixed_at=now
        ),
        "b_nessus": DetectionFactory(host=b, vulnerability=kb["nessus"], port=445, protocol="tcp"),
    }
    return acme, globex, rows


def ids(response) -> set[int]:
    return {r["id"] for r in response.json()["results"]}


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, {"a_tls", "b_telnet", "c_tls", "c_banner", "b_nessus"}),  # open by default
        ({"status": "fixed"}, {"a_fixed"}),
        ({"status": "any"}, {"a_tls", "b_telnet", "c_tls", "c_banner", "a_fixed", "b_nessus"}),
        ({"severity": [4, 5]}, {"a_tls", "b_telnet", "c_tls"}),
        ({"kind": "info"}, {"c_banner"}),
        ({"qid": 993001}, {"a_tls", "c_tls"}),
        ({"cve": "cve-2014-3566"}, {"a_tls", "c_tls"}),
        ({"port": 23}, {"b_telnet"}),
        ({"q": "telnet"}, {"b_telnet"}),
        ({"source": "nessus"}, {"b_nessus"}),
    ],
)
def test_each_filter(api_as, estate, query, expected):
    rows = estate[2]
    assert ids(api_as("reader").get(URL, query)) == {rows[k].pk for k in expected}


@pytest.mark.parametrize("as_values", [500, 1, 0])
def test_a_text_filter_keeps_the_same_rows_however_its_qids_are_passed(
    api_as, estate, monkeypatch, as_values
):
    """The KB's QIDs go to the detections as one value, a list, or (past the
    limit) a subquery: the rows are the same."""
    from insights import vulnerabilities

    monkeypatch.setattr(vulnerabilities, "QIDS_AS_VALUES", as_values)
    rows = estate[2]
    api = api_as("reader")
    # "open" is in two titles: two QIDs.
    assert ids(api.get(URL, {"q": "open"})) == {rows["b_telnet"].pk, rows["c_banner"].pk}
    assert ids(api.get(URL, {"q": "telnet"})) == {rows["b_telnet"].pk}


def test_network_and_tag_filters(api_as, estate):
    acme, globex, rows = estate
    api = api_as("reader")
    assert ids(api.get(URL, {"network": acme.pk})) == {rows["a_tls"].pk}
    from assets.models import Tag

    tag = Tag.objects.get(name="dmz")
    assert ids(api.get(URL, {"tag": tag.pk})) == {rows["c_tls"].pk, rows["c_banner"].pk}


def test_a_reader_of_a_few_networks_reads_each_ones_index_worst_first(estate):
    """Worst first across networks holding few of all findings (a Reader
    granted two networks of fifty), each network's own index is read and the
    page merged from them; across networks holding most, the one index across
    networks; for one QID, its index."""
    acme, globex, rows = estate
    big = NetworkFactory(name="Big", space="10.0.0.0/16", detection_count=1000)
    few = Criteria(networks=[acme, globex], severities=[], statuses=OPEN)
    parts = branches(detections(few), few, sort="-severity")
    assert len(parts) == 1 and "LATERAL" in merge_statement(parts, sort="-severity", networks=[])[0]
    most = Criteria(networks=[acme, globex, big], severities=[], statuses=OPEN)
    assert branches(detections(most), most, sort="-severity") == []
    one_qid = Criteria(networks=[acme, globex], severities=[], statuses=OPEN, qid=993001)
    assert branches(detections(one_qid), one_qid, sort="-severity") == []
    # The page a Reader of the two sees (merged): every open finding of theirs,
    # worst first; and its CSV export, each network's read from its own index.
    opened = [row for key, row in rows.items() if key != "a_fixed"]
    ordered = sorted(opened, key=lambda r: (r.severity, r.pk), reverse=True)
    assert [row.pk for row in page(few, sort="-severity").rows] == [row.pk for row in ordered]
    exported = [(cells[0], cells[3]) for cells in list(csv_rows(few))[1:]]
    assert exported == [(row.network.name, row.vulnerability_id) for row in ordered]


@pytest.mark.parametrize("sort", ["-severity", "-last_found", "first_found", "qid"])
@pytest.mark.parametrize("status", ["any", "open"])
def test_a_filter_no_finding_can_match_lists_nothing(api_as, client_as, estate, sort, status):
    """A CVE no KB entry names (no QID to look for): an empty page, merged or not."""
    query = {"cve": "CVE-1999-0001", "sort": sort, "status": status}
    assert api_as("reader").get(URL, query).json()["results"] == []
    page = client_as("reader").get(reverse("insights:vulnerability_list"), query)
    assert page.status_code == 200 and "detection-" not in page.content.decode()


def test_bad_filters_are_refused_by_name(api_as, estate):
    api = api_as("reader")
    for query, field in [
        ({"cve": "2014-3566"}, "cve"),
        ({"port": 70000}, "port"),
        ({"qid": "99999999999999999999"}, "qid"),
        ({"severity": 9}, "severity"),
        ({"sort": "ip; drop table"}, "sort"),
        ({"sort": "-fixed_at"}, "sort"),  # a fix date is the Fixed list's order only
    ]:
        response = api.get(URL, query)
        assert response.status_code == 400 and field in response.json(), query


def test_each_row_says_ip_and_network(api_as, estate):
    rows = api_as("reader").get(URL, {"qid": 993001}).json()["results"]
    assert sorted((r["ip"], r["network_name"]) for r in rows) == [
        ("10.0.0.5", "Acme"),
        ("10.0.0.9", "Globex"),
    ]


@pytest.mark.parametrize("status", ["open", "any"])
@pytest.mark.parametrize(
    "sort", ["-severity", "severity", "-last_found", "first_found", "qid", "-qid"]
)
def test_keyset_pages_cover_every_row_once_in_order(api_as, sort, status):
    """Across networks and, for any status, across the open and Fixed sets too:
    the orders each of those is indexed in apart are merged from theirs."""
    networks = [
        NetworkFactory(name="Big", space="10.1.0.0/16"),
        NetworkFactory(name="Twin", space="10.1.0.0/16"),
        NetworkFactory(name="Small", space="10.1.0.0/16"),
    ]
    kb = [VulnerabilityFactory(qid=994000 + i, severity=1 + i % 5) for i in range(7)]
    now = timezone.now()
    for i in range(2 * PAGE_SIZE + 7):
        fixed = status == "any" and i % 3 == 0
        DetectionFactory(
            host=HostFactory(network=networks[i % 5 // 2], ip=f"10.1.{i // 200}.{i % 200 + 1}"),
            vulnerability=kb[i % 7],
            # A QID's findings at two severities: its order is worst first.
            severity=kb[i % 7].severity + i % 2 if i % 7 == 3 else kb[i % 7].severity,
            first_found=now - timedelta(minutes=i % 11),
            last_found=now - timedelta(minutes=i % 13),
            status=DetectionStatus.FIXED if fixed else DetectionStatus.ACTIVE,
            fixed_at=now if fixed else None,
        )
    api = api_as("reader")
    seen, url, pages = [], URL, 0
    params = {"sort": sort, "status": status}
    while url:
        answer = api.get(url, params if url == URL else None).json()
        seen.extend(answer["results"])
        url, pages = answer["next"], pages + 1
    assert pages == 3 and len(seen) == len({r["id"] for r in seen}) == 2 * PAGE_SIZE + 7
    assert ({r["status"] for r in seen} == {"active", "fixed"}) == (status == "any")
    field = sort.lstrip("-")
    if field == "qid":  # a QID's findings worst first, then newest
        values = [(r["qid"], -r["severity"], -r["id"]) for r in seen]
    else:
        values = [(r[field], r["id"]) for r in seen]
    assert values == sorted(values, reverse=sort.startswith("-"))


@pytest.mark.parametrize("sort", ["-fixed_at", "fixed_at"])
def test_the_fixed_list_pages_by_fix_date(api_as, client_as, sort):
    acme = NetworkFactory(name="Big", space="10.1.0.0/16")
    kb = [VulnerabilityFactory(qid=995000 + i, severity=1 + i % 5) for i in range(3)]
    now = timezone.now()
    for i in range(PAGE_SIZE + 9):
        host = HostFactory(network=acme, ip=f"10.1.0.{i + 1}")
        DetectionFactory(
            host=host,
            vulnerability=kb[i % 3],
            status=DetectionStatus.FIXED,
            fixed_at=now - timedelta(hours=i % 7),  # ties, broken by id
        )
        DetectionFactory(host=host, vulnerability=kb[(i + 1) % 3])  # open: not listed
    api = api_as("reader")
    seen, url = [], URL
    while url:
        answer = api.get(url, {"sort": sort, "status": "fixed"} if url == URL else None).json()
        seen.extend(answer["results"])
        url = answer["next"]
    assert len(seen) == len({r["id"] for r in seen}) == PAGE_SIZE + 9
    assert {r["status"] for r in seen} == {"fixed"}
    values = [(r["fixed_at"], r["id"]) for r in seen]
    assert values == sorted(values, reverse=sort.startswith("-"))
    page = client_as("reader").get(
        reverse("insights:vulnerability_list"), {"status": "fixed", "sort": sort}
    )
    assert page.status_code == 200 and page.content.decode().count("detection-fixed") == PAGE_SIZE
    refused = client_as("reader").get(reverse("insights:vulnerability_list"), {"sort": sort})
    assert "Sorting by fix date lists Fixed findings" in refused.content.decode()


def test_the_page_lists_filters_sorts_and_pages(client_as, estate):
    acme, globex, rows = estate
    client = client_as("reader")
    page = client.get(reverse("insights:vulnerability_list")).content.decode()
    assert "Weak TLS" in page and "Telnet open" in page and "Nessus 19506" in page
    assert '<span class="ip">10.0.0.5</span> · Acme' in page
    assert '<span class="ip">10.0.0.5</span> · Globex' in page
    assert "sort=severity" in page  # the header toggles the order
    # A severity's badge and word stay on one line, however narrow the column.
    assert '<span class="nowrap"><span class="sev sev-5">5</span> Urgent</span>' in page
    # The sort menu says which way each order goes; severities read worst first.
    assert '<option value="-severity">Severity, worst first</option>' in page
    assert '<option value="severity">Severity, lowest first</option>' in page
    assert '<option value="-last_found">Last found, newest first</option>' in page
    words = [page.index(f" {n}</label>") for n in ("5 Urgent", "4 Critical", "1 Minimal")]
    assert words == sorted(words)
    fragment = client.get(
        reverse("insights:vulnerability_list"), {"cve": "CVE-2014-3566"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in fragment and "Telnet open" not in fragment and "Weak TLS" in fragment
    bad = client.get(reverse("insights:vulnerability_list"), {"port": "x"}).content.decode()
    assert "Fix the filters above" in bad
    # A Fixed row says when it was fixed.
    fixed = client.get(reverse("insights:vulnerability_list"), {"status": "fixed"}).content
    fixed_at = rows["a_fixed"].fixed_at.strftime("%Y-%m-%d %H:%M")
    assert f'Fixed</span><br><small class="muted">{fixed_at} UTC</small>' in fixed.decode()


def test_grouped_by_qid_gives_affected_hosts_per_network(client_as, api_as, estate):
    acme, globex, rows = estate
    for network in (acme, globex):
        services.trends_snapshot(network=network)
    groups = api_as("reader").get(URL, {"group": "qid"}).json()["results"]
    tls = next(g for g in groups if g["qid"] == 993001)
    assert tls["hosts"] == 2
    assert sorted((n["network_name"], n["hosts"]) for n in tls["networks"]) == [
        ("Acme", 1),
        ("Globex", 1),
    ]
    assert groups[0]["qid"] == 993001  # most affected hosts first
    acme.name = "Acme <b>&</b>"
    acme.save()
    page = client_as("reader").get(reverse("insights:vulnerability_list"), {"group": "qid"})
    html = page.content.decode()
    # Each network's count links to that QID's findings there; names escaped.
    link = f'<a href="{reverse("insights:vulnerability_list")}?network={acme.pk}&amp;qid=993001">'
    assert f"{link}Acme &lt;b&gt;&amp;&lt;/b&gt;</a>: 1" in html and "</a>: 1 · <a" in html
    assert "<b>&</b>" not in html


def test_csv_export_streams_the_filtered_rows_spreadsheet_safe(client_as, estate):
    response = client_as("reader").get(reverse("insights:vulnerability_export"), {"network": ""})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 5  # the open ones, as the list
    acme_tls = next(r for r in rows if r["Network"] == "Acme")
    assert acme_tls["DNS"] == "'=cmd|' /C calc'!A0"  # neutralised, not run
    nessus = next(r for r in rows if r["Source"] == "nessus")
    assert nessus["Title"].startswith("'=HYPERLINK") and nessus["Reference"] == "19506"
    only = client_as("reader").get(reverse("insights:vulnerability_export"), {"port": 23})
    assert [
        r["Port"] for r in csv.DictReader(io.StringIO(b"".join(only.streaming_content).decode()))
    ] == ["23"]
    fixed = client_as("reader").get(reverse("insights:vulnerability_export"), {"status": "fixed"})
    (row,) = csv.DictReader(io.StringIO(b"".join(fixed.streaming_content).decode()))
    fixed_at = estate[2]["a_fixed"].fixed_at.strftime("%Y-%m-%d %H:%M:%S")
    assert (row["Status"], row["Fixed (UTC)"]) == ("fixed", fixed_at)
    assert acme_tls["Fixed (UTC)"] == ""
    refused = client_as("reader").get(reverse("insights:vulnerability_export"), {"cve": "nope"})
    assert refused.status_code == 400 and b"cve" in refused.content


def test_csv_export_of_any_status_is_worst_first_across_open_and_fixed(client_as, estate):
    _acme, _globex, rows = estate
    response = client_as("reader").get(reverse("insights:vulnerability_export"), {"status": "any"})
    read = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(read) == len(rows) and {r["Status"] for r in read} == {"fixed", "new"}
    severities = [int(r["Severity"]) for r in read]
    assert severities == sorted(severities, reverse=True)
    # Telnet, fixed in Acme and open in Globex: one severity, newest first.
    fives = [(r["Network"], r["Status"]) for r in read if r["Severity"] == "5"]
    assert fives == [("Acme", "fixed"), ("Globex", "new")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's cursors")
@pytest.mark.django_db(transaction=True)
def test_csv_export_streams_rows_as_the_database_reads_them(estate):
    """Outside a transaction Django declares its cursor WITH HOLD, and PostgreSQL
    then runs the whole query and stores every row before the first is sent:
    the export reads in a transaction of its own, from cursors that stream."""
    acme, globex, _rows = estate
    stream = csv_rows(Criteria(networks=[acme, globex], severities=[], statuses=[]))
    assert next(stream) == CSV_HEADER and next(stream)
    with connection.cursor() as cursor:
        cursor.execute("SELECT is_holdable FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        holdable = [held for (held,) in cursor.fetchall()]
    stream.close()  # (before asserting: an open cursor would stop the test's teardown)
    assert holdable == [False, False]  # the open and the Fixed findings, each read in order
    # Networks holding few of all findings: each one's open and Fixed ones (a
    # stream that found no row has closed its cursor: Globex has no Fixed one).
    NetworkFactory(name="Big", space="10.0.0.0/16", detection_count=1000)
    stream = csv_rows(Criteria(networks=[acme, globex], severities=[], statuses=[]))
    assert next(stream) == CSV_HEADER and next(stream)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        opened = cursor.fetchone()
    stream.close()
    assert opened == (3,)


def reads_in_order(query, index: str, *, sorting: bool = True) -> None:
    """Asserts the first page of ``query`` is read in order from ``index``, with
    no sort; ``sorting=False``: whether the index can give that order at all (a
    tiny table's estimates can make sorting its few rows look cheaper)."""
    sql, params = query[: PAGE_SIZE + 1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        if not sorting:
            cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {index} on scans_detection" in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's partial indexes")
@pytest.mark.parametrize(
    ("networks", "index"),
    [
        (lambda acme, globex: [acme], "detection_fixed_by_network"),
        (lambda acme, globex: [acme, globex], "detection_fixed_by_date"),
    ],
)
def test_the_fixed_list_by_fix_date_reads_its_index_in_order(estate, networks, index):
    acme, globex, _rows = estate
    criteria = Criteria(networks=networks(acme, globex), severities=[], statuses=["fixed"])
    reads_in_order(page_query(detections(criteria), sort="-fixed_at"), index, sorting=False)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's partial indexes")
@pytest.mark.parametrize(
    ("statuses", "by", "index"),
    [
        (["new", "active", "reopened"], "network", "detection_open_by_network"),
        (["new", "active", "reopened"], "qid", "detection_open_by_qid"),
        (["fixed"], "network", "detection_fixed_in_network"),
        (["fixed"], "qid", "detection_fixed_of_qid"),
        (["fixed"], "all", "detection_fixed_by_severity"),
    ],
)
def test_a_page_reads_its_rows_in_order_from_a_partial_index(estate, statuses, by, index):
    """The list's first page, open or Fixed, in one network or for one QID (and
    Fixed across networks), is read in order from the partial index of that
    status set: no sort, whatever the table's size."""
    acme, globex, _rows = estate
    criteria = Criteria(networks=[acme], severities=[], statuses=statuses)
    if by == "qid":  # across networks, as a CVE or QID filter asks
        criteria.networks, criteria.qid = [acme, globex], 993001
    if by == "all":
        criteria.networks = [acme, globex]
    query = detections(criteria).order_by("-severity", "-id")
    reads_in_order(query, index, sorting=by != "all")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's partial indexes")
@pytest.mark.parametrize(
    ("sort", "across", "status", "parts", "indexes"),
    [
        ("-severity", True, "any", 2, ["open_by_severity", "fixed_by_severity"]),
        # (A few Fixed rows: either Fixed index, read in order, costs the same.)
        ("severity", False, "any", 2, ["open_by_network", "fixed_(in_network|by_severity)"]),
        ("-last_found", True, "any", 2, ["open_by_last_found", "fixed_by_last_found"]),
        ("last_found", False, "any", 2, ["open_by_last_found", "fixed_by_last_found"]),
        # The rest of a QID's findings, the next QIDs: in each set.
        ("qid", True, "any", 4, ["open_by_qid", "fixed_of_qid"]),
        ("-qid", True, "any", 4, ["open_by_qid", "fixed_of_qid"]),
        ("qid", True, "open", 2, ["open_by_qid"]),
        # Indexed per network only: one part, in each network.
        ("-last_found", True, "open", 1, ["open_by_last_found"]),
        ("first_found", True, "open", 1, ["found_by_network"]),
        ("-first_found", True, "any", 1, ["found_by_network"]),
        # Networks holding few of the findings (see the test below); a tiny
        # table's estimates may pick either index of a set, each read in order.
        ("-severity", "few", "open", 1, ["open_by_(network|severity)"]),
        ("severity", "few", "any", 2, ["open_by_(network|sev)", "fixed_(in_network|by_sev)"]),
    ],
)
def test_a_merged_page_reads_each_part_in_order_from_its_index(
    estate, sort, across, status, parts, indexes
):
    """Where no one index holds a page's order (open and Fixed findings are
    indexed apart, dates per network, a QID's findings the other way), the
    page (here a deep one) is merged from parts each read in order from its
    index, in each network where the order is indexed per network; the one
    sort is the merge of their first rows (PAGE_SIZE + 1 per part), never of
    the table."""
    acme, globex, rows = estate
    networks = [acme, globex] if across else [acme]
    if across == "few":
        NetworkFactory(name="Big", space="10.0.0.0/16", detection_count=1000)
    statuses = {"any": [], "open": ["new", "active", "reopened"]}[status]
    criteria = Criteria(networks=networks, severities=[], statuses=statuses)
    after = cursor_for(rows["a_tls"], sort.lstrip("-"))
    found = branches(detections(criteria), criteria, sort=sort, after=after)
    assert len(found) == parts
    with CaptureQueriesContext(connection) as queries:
        page(criteria, sort=sort, after=after)
    assert any(q["sql"].startswith("SELECT b.") for q in queries), "the page is not merged"
    sql, params = merge_statement(found, sort=sort, networks=networks)
    assert ("LATERAL" in sql) == (("found" in sort and across) or across == "few")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        # Whether each part's index can give its order (sorting a tiny table's
        # rows can look cheaper to the planner; see reads_in_order).
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = [row[0] for row in cursor.fetchall()]
    text = "\n".join(plan)
    for index in indexes:
        assert re.search(rf"Scan (Backward )?using detection_{index}", text), text
    # Each part's first rows come straight from its index, under the part's
    # limit: what is sorted above (if anything) is those few rows, not a table.
    nodes = [line for line in plan if "->" in line]
    for above, node in itertools.pairwise(nodes):
        if "Scan" in node and " using detection_" in node:
            # (First found is indexed without the id: equal dates' ids sorted.)
            assert "Limit  (" in above or "Incremental Sort  (" in above, text


@pytest.mark.parametrize("status", ["open", "any", "new", "fixed"])
@pytest.mark.parametrize("across", [True, False])
def test_every_order_pages_as_one_sorting_query_would(status, across):
    """The pages of each order, however a page is read (merged from index
    ranges on PostgreSQL), hold exactly the rows of one query sorting them
    all, in its order: across and within networks, for every status set, with
    ties on every column."""
    networks = [NetworkFactory(name=f"N{n}", space="10.2.0.0/16") for n in range(3)]
    # Most findings elsewhere: worst first, the three are merged from each one's index.
    NetworkFactory(name="Elsewhere", space="10.2.0.0/16", detection_count=10_000)
    kb = [VulnerabilityFactory(qid=996000 + i, severity=1 + i % 5) for i in range(4)]
    now = timezone.now()
    statuses = ["new", "active", "reopened", "fixed"]
    for i in range(130):
        fixed = statuses[i % 4] == "fixed"
        DetectionFactory(
            host=HostFactory(network=networks[i % 3], ip=f"10.2.0.{i + 1}"),
            vulnerability=kb[i % 4],
            severity=kb[i % 4].severity + (i % 3 == 0 and i % 4 == 1),
            status=statuses[i % 4],
            first_found=now - timedelta(hours=i % 5),
            last_found=now - timedelta(hours=i % 6),
            fixed_at=now - timedelta(minutes=i % 7) if fixed else None,
        )
    chosen = networks if across else networks[1:2]
    wanted = {"open": ["new", "active", "reopened"], "any": []}.get(status, [status])
    criteria = Criteria(networks=chosen, severities=[], statuses=wanted)
    sorts = [s for s in SORTS if s != "fixed_at" or status == "fixed"]
    for sort in [f"{d}{s}" for s in sorts for d in ("-", "")]:
        expected = list(page_query(detections(criteria), sort=sort).values_list("id", flat=True))
        seen, after = [], ""
        while True:
            found = page(criteria, sort=sort, after=after)
            seen.extend(row.pk for row in found.rows)
            if not found.next_cursor:
                break
            after = found.next_cursor
        assert seen == expected, sort
