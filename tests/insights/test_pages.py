"""The dashboard (landing page), the global search and their API."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from insights import services
from networks.services import network_counters_set
from tests.factories import (
    ApplianceFactory,
    DetectionFactory,
    HostFactory,
    NetworkFactory,
    VulnerabilityFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def twins():
    """The same 10.0.0.5 in two overlapping networks, with different findings."""
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    globex = NetworkFactory(name="Globex", space="10.0.0.0/16")
    a = HostFactory(network=acme, ip="10.0.0.5", dns="web.acme.test")
    b = HostFactory(network=globex, ip="10.0.0.5", dns="db.globex.test", os="Windows")
    tls = VulnerabilityFactory(qid=992001, severity=4, title="Weak TLS", cves=["CVE-2014-3566"])
    telnet = VulnerabilityFactory(qid=992002, severity=5, title="Telnet open")
    DetectionFactory(host=a, vulnerability=tls)
    DetectionFactory(host=b, vulnerability=telnet)
    DetectionFactory(host=HostFactory(network=globex, ip="10.0.0.9"), vulnerability=tls)
    network_counters_set(network_id=acme.pk, hosts=1, open_findings={"4": 1})
    network_counters_set(network_id=globex.pk, hosts=2, open_findings={"5": 1, "4": 1})
    for network in (acme, globex):
        services.trends_snapshot(network=network)
    return acme, globex, a, b


def test_home_is_the_dashboard(client_as):
    response = client_as("reader").get("/")
    assert response.status_code == 302 and response["Location"] == reverse("insights:dashboard")


def test_dashboard_tiles_for_all_networks_and_for_one(client_as, twins):
    acme, globex, a, b = twins
    ApplianceFactory(network=globex, name="globex-1", last_seen=timezone.now())
    ApplianceFactory(network=globex, name="globex-2")
    client = client_as("reader")
    page = client.get(reverse("insights:dashboard")).content.decode()
    assert "Acme" in page and "Globex" in page
    assert "Weak TLS" in page and "Telnet open" in page  # top vulnerabilities
    assert f'href="{b.get_absolute_url()}"' in page  # most vulnerable hosts, IP · network
    assert f'href="{a.get_absolute_url()}"' in page
    assert "<svg" in page and "Open findings by severity per network" in page
    assert 'class="status-online">1<' in page and 'class="status-offline">1<' in page
    # Weak TLS is open on two hosts (one per network): it leads the list.
    assert page.index("Weak TLS") < page.index("Telnet open")
    one = client.get(reverse("insights:dashboard"), {"network": acme.pk}).content.decode()
    assert "Weak TLS" in one and "Telnet open" not in one
    assert f'href="{b.get_absolute_url()}"' not in one


def test_dashboard_queries_do_not_grow_with_the_rows(
    client_as, twins, django_assert_max_num_queries
):
    acme, globex, a, b = twins
    client = client_as("reader")
    with django_assert_max_num_queries(14) as first:
        client.get(reverse("insights:dashboard"))
    tls = VulnerabilityFactory(qid=992003, severity=3)
    for i in range(30):
        DetectionFactory(host=HostFactory(network=globex, ip=f"10.0.1.{i}"), vulnerability=tls)
    services.trends_snapshot(network=globex)
    with django_assert_max_num_queries(len(first.captured_queries)):
        client.get(reverse("insights:dashboard"))


def test_trend_chart_draws_the_history(client_as, twins):
    acme, globex, a, b = twins
    services.trends_backfill(network=globex)
    page = client_as("reader").get(reverse("insights:dashboard"), {"days": 90}).content.decode()
    assert "<polyline" in page and "New and fixed findings, last 90 days" in page


def test_running_scans_tile_polls_only_while_a_scan_runs(client_as, twins):
    from scans.models import OptionProfile, Scan

    acme = twins[0]
    client = client_as("reader")
    page = client.get(reverse("insights:dashboard")).content.decode()
    assert "No scan is running." in page and 'hx-trigger="every 2s"' not in page
    Scan.objects.create(
        title="Nightly",
        type="discovery",
        network=acme,
        targets="10.0.0.0/24",
        hosts_total=256,
        hosts_done=64,
        status="running",
        option_profile=OptionProfile.objects.first(),
    )
    tile = client.get(reverse("insights:dashboard_scans"), HTTP_HX_REQUEST="true")
    html = tile.content.decode()
    assert "<html" not in html and "Nightly" in html and 'hx-trigger="every 2s"' in html
    assert "64 of 256" in html
    # Without htmx the tile's URL is the dashboard.
    assert client.get(reverse("insights:dashboard_scans"))["Location"].startswith(
        reverse("insights:dashboard")
    )


# --- Search ------------------------------------------------------------------------------


def test_an_ip_in_two_networks_gives_one_result_per_network(client_as, api_as, twins):
    acme, globex, a, b = twins
    page = client_as("reader").get(reverse("insights:search"), {"q": "10.0.0.5"}).content.decode()
    assert "exists in 2 networks" in page
    assert f'href="{a.get_absolute_url()}"' in page and f'href="{b.get_absolute_url()}"' in page
    assert "web.acme.test" in page and "db.globex.test" in page
    found = api_as("reader").get("/api/v1/search/", {"q": "10.0.0.5"}).json()
    assert found["kind"] == "ip"
    assert sorted((h["network_name"], h["ip"]) for h in found["hosts"]) == [
        ("Acme", "10.0.0.5"),
        ("Globex", "10.0.0.5"),
    ]


@pytest.mark.parametrize(
    "q, kind, hosts, qids",
    [
        ("10.0.0.0/24", "range", {"10.0.0.5", "10.0.0.9"}, set()),
        ("10.0.0.6-10.0.0.9", "range", {"10.0.0.9"}, set()),
        ("db.glob", "name", {"10.0.0.5"}, set()),
        ("WEB.ACME", "name", {"10.0.0.5"}, set()),
        ("992002", "qid", set(), {992002}),
        ("cve-2014-3566", "cve", set(), {992001, 38104}),  # ours, and the shipped KB's POODLE
        ("nothing-like-this", "name", set(), set()),
        ("web\x00", "", set(), set()),  # PostgreSQL refuses NUL in text: found nothing
    ],
)
def test_search_kinds(api_as, twins, q, kind, hosts, qids):
    found = api_as("reader").get("/api/v1/search/", {"q": q}).json()
    assert found["kind"] == kind
    assert {h["ip"] for h in found["hosts"]} == hosts
    assert {v["qid"] for v in found["vulnerabilities"]} == qids


def test_search_box_is_in_the_header(client_as):
    page = client_as("reader").get(reverse("assets:host_list")).content.decode()
    assert f'action="{reverse("insights:search")}"' in page and 'name="q"' in page


def test_search_escapes_what_it_echoes(client_as):
    page = client_as("reader").get(reverse("insights:search"), {"q": "<script>x</script>"})
    assert "<script>x</script>" not in page.content.decode()


# --- Trends API --------------------------------------------------------------------------


def test_trends_api_filters(api_as, twins):
    acme, globex, a, b = twins
    services.trends_backfill(network=globex)
    api = api_as("reader")
    rows = api.get("/api/v1/trends/", {"network": globex.pk}).json()["results"]
    assert rows and {r["network_name"] for r in rows} == {"Globex"}
    today = timezone.localdate()
    assert rows[-1]["date"] == today.isoformat()
    assert rows[-1]["open_by_severity"]["5"] == 1
    since = (today - timedelta(days=0)).isoformat()
    recent = api.get("/api/v1/trends/", {"since": since}).json()["results"]
    assert {r["date"] for r in recent} == {today.isoformat()}
    assert api.get("/api/v1/trends/", {"since": "yesterday"}).status_code == 400


def _import(network, filename, status="finished", hosts=3, findings=7):
    from scans.models import Scan, ScanImport

    scan = Scan.objects.create(
        title=filename, kind="import", type="vulnerability", network=network, status=status
    )
    ScanImport.objects.create(
        scan=scan,
        format="nessus",
        filename=filename,
        size=1,
        sha256=f"{scan.pk:064d}",
        hosts=hosts,
        findings=findings,
    )
    return scan


def _connector(name, status=None, error=""):
    from assets.models import Connector, ConnectorRun

    connector = Connector.objects.create(name=name, kind="aws_ec2", scopes=["eu-west-1"])
    if status:
        run = ConnectorRun.objects.create(
            connector=connector, status=status, counts={"seen": 12, "new": 2}, error=error
        )
        connector.last_run = run
        connector.save(update_fields=["last_run"])
    return connector


def test_last_imports_tile_lists_the_networks_the_user_sees(client, twins):
    from networks.services import network_access_set
    from tests.factories import UserFactory

    acme, globex, a, b = twins
    mine = _import(acme, "acme-weekly.nessus")
    _import(globex, "globex-secret.nessus", status="error")
    _connector("aws-prod", status="finished")
    reader = UserFactory(username="acme-reader", role="reader")
    network_access_set(actor=None, user=reader, networks=[acme])
    client.force_login(reader)
    page = client.get(reverse("insights:dashboard")).content.decode()
    tile = page[page.index('id="imports-tile"') :]
    assert f'href="{reverse("scans:import_list")}"' in tile  # the list behind the tile
    assert f'href="{mine.get_absolute_url()}"' in tile and "acme-weekly.nessus" in tile
    assert "3 · 7" in tile  # hosts · findings
    assert "globex-secret.nessus" not in page  # another network's import
    # Connectors are Managers' pages: not shown, not even their names.
    assert "aws-prod" not in page and reverse("assets:connector_list") not in page


def test_managers_see_each_connectors_last_run_without_its_error(client_as, twins):
    acme, globex, a, b = twins
    _import(globex, "globex.nessus")
    failing = _connector(
        "azure-eu", status="error", error="AADSTS7000215: Invalid client secret for app 1234"
    )
    fine = _connector("aws-prod", status="finished")
    never = _connector("aws-lab")
    page = client_as("manager").get(reverse("insights:dashboard")).content.decode()
    tile = page[page.index('id="imports-tile"') :]
    assert f'href="{reverse("assets:connector_list")}"' in tile
    for connector in (failing, fine, never):
        assert f'href="{connector.get_absolute_url()}"' in tile
    assert 'class="badge run-error"' in tile and 'class="badge run-finished"' in tile
    assert "never run" in tile and "12 read, 2 new" in tile
    assert "AADSTS" not in page  # the run's message stays on the connector's page
    assert "globex.nessus" in tile
    # The latest run first, a connector never run last.
    assert tile.index("aws-prod") < tile.index("aws-lab")


def test_dashboard_queries_stay_bounded_with_imports_and_connectors(
    client_as, twins, django_assert_max_num_queries
):
    acme, globex, a, b = twins
    client = client_as("manager")
    _import(acme, "first.nessus")
    _connector("first", status="finished")
    with django_assert_max_num_queries(16) as first:
        client.get(reverse("insights:dashboard"))
    for i in range(8):
        _import(globex, f"more-{i}.nessus")
        _connector(f"more-{i}", status="finished")
    with django_assert_max_num_queries(len(first.captured_queries)):
        page = client.get(reverse("insights:dashboard")).content.decode()
    assert "more-7.nessus" in page


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])
def test_the_trend_chart_ends_on_the_days_the_trend_rows_are_taken(client, twins, zone):
    # Rows are days of the server's zone (UTC here). At any moment one of these
    # two zones (UTC+14, UTC-12) is on another date: the chart still ends today
    # in UTC, on the row just taken, not on a day with no row yet.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.factories import UserFactory

    client.force_login(UserFactory(username="far", timezone=zone))
    page = client.get(reverse("insights:dashboard")).content.decode()
    utc_today = timezone.localdate(timezone=ZoneInfo("UTC"))
    assert f">{utc_today:%Y-%m-%d}</text>" in page
    theirs = datetime.now(ZoneInfo(zone)).date()
    if theirs > utc_today:
        assert f">{theirs:%Y-%m-%d}</text>" not in page


def test_name_search_reads_dns_and_netbios_by_name_then_network(db):
    from accounts.models import Role
    from insights import selectors
    from tests.factories import UserFactory

    manager = UserFactory(role=Role.MANAGER)
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    globex = NetworkFactory(name="Globex", space="10.0.0.0/16")
    HostFactory(network=globex, ip="10.0.0.1", dns="srv-b.globex.test")
    HostFactory(network=acme, ip="10.0.0.1", dns="SRV-B.acme.test", netbios="SRV-B")
    HostFactory(network=acme, ip="10.0.0.2", netbios="srv-a")
    HostFactory(network=acme, ip="10.0.0.3", dns="srv_x.acme.test")
    HostFactory(network=acme, ip="10.0.0.4", dns="other.acme.test", netbios="SRVXYZ")
    found = selectors.search(user=manager, q="Srv-")
    # Either name, either case; a host named twice listed once; name, then network.
    assert [(h.ip, h.network.name) for h in found.hosts] == [
        ("10.0.0.2", "Acme"),
        ("10.0.0.1", "Acme"),
        ("10.0.0.1", "Globex"),
    ]
    # "_" and "%" are the user's characters, not wildcards.
    assert [h.ip for h in selectors.search(user=manager, q="srv_").hosts] == ["10.0.0.3"]
    assert selectors.search(user=manager, q="srv%").hosts == []
    for i in range(selectors.SEARCH_LIMIT):
        HostFactory(network=globex, ip=f"10.0.1.{i}", dns=f"bulk{i:03d}.globex.test")
    assert not selectors.search(user=manager, q="bulk").more
    HostFactory(network=globex, ip="10.0.2.1", netbios="BULK")
    many = selectors.search(user=manager, q="bulk")
    assert many.more and len(many.hosts) == selectors.SEARCH_LIMIT
    assert many.hosts[0].netbios == "BULK"  # "BULK" sorts before "BULK000..."


def test_an_imported_vulnerability_is_named_as_its_source_names_it(client_as, twins):
    """A QID Enclave numbered for an import reads as its source's id ("Nessus
    19506") on the dashboard and in search, as it does in the Vulnerabilities list."""
    acme, _globex, a, _b = twins
    nessus = VulnerabilityFactory(
        qid=1_000_000_005,
        source="nessus",
        external_id="19506",
        severity=3,
        title="Nessus Scan Information",
        cves=["CVE-2099-0001"],
    )
    DetectionFactory(host=a, vulnerability=nessus)
    services.trends_snapshot(network=acme)
    client = client_as("reader")
    page = client.get(reverse("insights:dashboard")).content.decode()
    assert f'href="{reverse("scans:kb_detail", args=[nessus.qid])}">Nessus 19506</a>' in page
    found = client.get(reverse("insights:search"), {"q": "CVE-2099-0001"}).content.decode()
    assert f'href="{reverse("scans:kb_detail", args=[nessus.qid])}">Nessus 19506</a>' in found
    assert '<td><span class="sev sev-3">3 Serious</span></td>' in found


def test_the_appliances_tile_says_when_failover_is_held_or_has_stopped(client_as, settings):
    from scans.models import FailoverWatch

    settings.ENCLAVE_APPLIANCE_OFFLINE_AFTER, settings.ENCLAVE_HEARTBEAT_INTERVAL = 30, 5
    client = client_as("reader")

    def notice():
        page = client.get(reverse("insights:dashboard")).content.decode()
        found = re.search(r'<p class="warning" role="status" id="failover-pause">(.*?)</p>', page)
        return found and found.group(1)

    assert notice() is None  # a new installation: no check yet
    now = timezone.now()
    watch = FailoverWatch.objects.create(
        pk=1, checked_at=now, listening_since=now - timedelta(hours=1)
    )
    assert notice() is None  # checks every interval, unbroken
    FailoverWatch.objects.update(listening_since=now - timedelta(seconds=10))
    held = notice()
    assert "no appliance is taken for offline before" in held
    assert timezone.localtime(now + timedelta(seconds=20)).strftime("%H:%M:%S") in held
    FailoverWatch.objects.update(checked_at=watch.checked_at - timedelta(minutes=5))
    stopped = notice()
    assert stopped.startswith("No failover check since") and "celery -A config beat" in stopped
