"""Per-network access: a user granted network A sees nothing of network B.

Networks A and B own the same addresses (10.0.0.0/16) and each holds one of
everything: an appliance, the host 10.0.0.5, findings, an asset group, scans,
a schedule, an import, trend and exposure figures, a Manager's report and
report schedule. B's objects have names holding ``zqx`` and ids from
``B_IDS`` up, which appear nowhere else. Then every URL pattern of the
project (the role matrix's list) and every API route is called as a Scanner
and as a Reader granted A only, with A's objects and with B's, as a page and
as an htmx fragment, and no answer may hold B's names, ids or host details.
A URL added later joins the walk by itself; an API route too.
"""

import re
from datetime import timedelta
from html import escape
from types import SimpleNamespace
from urllib.parse import quote

import hypothesis
import pytest
from django.core.files.base import ContentFile
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from hypothesis import strategies as st

from accounts.models import AuditEntry, Role
from assets.models import AssetGroup, Connector, Host, Tag
from assets.services import overlaps_refresh, tag_assign
from insights.services import trends_snapshot
from networks.models import Network, ScannerAppliance
from networks.services import network_access_set
from reports.models import (
    Report,
    ReportRecurrence,
    ReportSchedule,
    ReportStatus,
    ReportTemplate,
)
from scans.models import (
    Detection,
    OptionProfile,
    Scan,
    ScanHost,
    ScanImport,
    Schedule,
)
from tests.factories import UserFactory, VulnerabilityFactory
from tests.test_role_matrix import ARGUMENTS, PAGES, project_url_names

pytestmark = pytest.mark.django_db

# B's objects get these ids (the n-th kind of object: B_IDS + 1000 n + 7), which
# nothing else has: a row made after them takes the next id of its own table.
B_IDS = 5_550_000
B_ID = re.compile(
    r"(?<!\d)(" + "|".join(str(B_IDS + 1000 * n + 7) for n in range(1, 11)) + r")(?!\d)"
)
NOWHERE = 9_876_543
# Long enough that no random token (CSRF) holds one by chance.
B_WORDS = ("bravo-zqx", "BRAVO-ZQX", "Bravo Holdings", "bravo", "Bravo")


def _network(pk, name):
    from core import iprange
    from networks.models import AddressRange

    network = Network.objects.create(pk=pk, name=name, address_space="10.0.0.0/16")
    r = iprange.parse("10.0.0.0/16")[0]
    AddressRange.objects.create(network=network, start_key=r.start_key, end_key=r.end_key)
    return network


def _side(*, ids: int, name: str, word: str, profile, template, manager, vulnerability):
    """One network with one of everything, every id from ``ids`` up (0: the database's)."""

    def pk(n):
        return ids + 1000 * n + 7 if ids else None

    network = _network(pk(1), name)
    appliance = ScannerAppliance.objects.create(pk=pk(2), name=f"{word}-scanner", network=network)
    host = Host.objects.create(
        pk=pk(3),
        network=network,
        ip="10.0.0.5",
        dns=f"db.{word}.example",
        netbios=f"{word.upper()}DB",
        os=f"{word}OS 9",
        last_scanned=timezone.now(),
    )
    group = AssetGroup.objects.create(pk=pk(4), title=f"{word} servers", network=network)
    from assets.services import _set_group_ranges
    from core import iprange

    _set_group_ranges(group, iprange.parse("10.0.0.0/24"))
    group.save()
    scan = Scan.objects.create(
        pk=pk(5),
        title=f"{word} weekly scan",
        type="vulnerability",
        network=network,
        targets="10.0.0.5",
        option_profile=profile,
        appliance=appliance,
        status="finished",
        started=timezone.now() - timedelta(hours=1),
        finished=timezone.now(),
    )
    ScanHost.objects.create(scan=scan, host=host, findings={"4": 1})
    detection = Detection.objects.create(
        pk=pk(6),
        network=network,
        host=host,
        vulnerability=vulnerability,
        severity=vulnerability.severity,
        status="active",
        port=443,
        protocol="tcp",
        results=f"certificate of {word}.example expired",
        first_found=timezone.now() - timedelta(days=3),
        last_found=timezone.now(),
    )
    schedule = Schedule.objects.create(
        pk=pk(7),
        title=f"{word} nightly",
        type="discovery",
        network=network,
        targets="10.0.0.5",
        option_profile=profile,
        recurrence="daily",
        start=timezone.now(),
        next_run=timezone.now() + timedelta(days=1),
        owner=manager,
    )
    imported = Scan.objects.create(
        pk=pk(8), title=f"{word} import", kind="import", type="vulnerability", network=network
    )
    ScanImport.objects.create(
        scan=imported,
        format="nessus",
        filename=f"{word}-results.nessus",
        size=1,
        sha256="0" * 64,
    )
    report = Report.objects.create(
        pk=pk(9),
        title=f"{word} exposure report",
        owner=manager,
        format="csv",
        target_network=network,
        targets="10.0.0.0/16",
        status=ReportStatus.FINISHED,
        file=ContentFile(f"ip,network\n10.0.0.5,{name}\n".encode(), name=f"{word}.csv"),
    )
    report_schedule = ReportSchedule.objects.create(
        pk=pk(10),
        title=f"{word} weekly report",
        template=template,
        recurrence=ReportRecurrence.WEEKLY,
        start=timezone.now() + timedelta(days=1),
        owner=manager,
        target_network=network,
        targets="10.0.0.0/16",
    )
    trends_snapshot(network=network)
    return {
        "network": network,
        "appliance": appliance,
        "host": host,
        "group": group,
        "scan": scan,
        "detection": detection,
        "schedule": schedule,
        "import": imported,
        "report": report,
        "report_schedule": report_schedule,
    }


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    manager = UserFactory(username="boss", role=Role.MANAGER)
    profile = OptionProfile.objects.filter(is_default=True).first() or OptionProfile.objects.create(
        name="Default", is_default=True
    )
    template = ReportTemplate.objects.create(title="Standard")
    vulnerability = VulnerabilityFactory(qid=38170, title="SSL Certificate Expired", severity=4)
    common = {
        "profile": profile,
        "template": template,
        "manager": manager,
        "vulnerability": vulnerability,
    }
    a = _side(ids=0, name="Alpha Corp", word="alpha", **common)
    b = _side(ids=B_IDS, name="Bravo Holdings", word="bravo-zqx", **common)
    tag = Tag.objects.create(name="dmz")
    tag_assign(actor=None, tag=tag, hosts=[a["host"], b["host"]])
    overlaps_refresh()
    connector = Connector.objects.create(name="cloud", kind="aws_ec2", scopes=["eu-west-1"])
    users = {}
    for role in (Role.SCANNER, Role.READER):
        user = UserFactory(username=f"a-{role}", role=role)
        network_access_set(actor=manager, user=user, networks=[a["network"]])
        users[role] = user
        # The user's own report, on "All" networks: theirs are A only.
        Report.objects.create(
            title="my report",
            owner=user,
            format="csv",
            status=ReportStatus.FINISHED,
            file=ContentFile(b"ip,network\n", name="mine.csv"),
        )
    shared = {
        "tag": tag,
        "connector": connector,
        "profile": profile,
        "template": template,
        "qid": vulnerability.qid,
        "user": users[Role.READER],
    }
    return {"a": {**a, **shared}, "b": {**b, **shared}, "users": users, "manager": manager}


def text_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def leaks(body: str, asked: str = "") -> list[str]:
    """B's words and ids in an answer; what was asked (the 404 page repeats the
    path) is not an answer."""
    if asked:
        path, _, query = asked.partition("?")
        body = body.replace(path, "")
        # A form or a link repeats the values asked for (the search box its text).
        for part in filter(None, query.split("&")):
            value = part.partition("=")[2]
            for shown in {value, quote(value, safe=""), escape(value)}:
                body = body.replace(shown, "")
    found = [w for w in B_WORDS if w in body]
    found += B_ID.findall(body)
    return found


def nowhere(objects) -> dict:
    """``objects`` with every id replaced by one that names nothing."""
    return {
        key: value if key == "qid" else SimpleNamespace(pk=NOWHERE)
        for key, value in objects.items()
    }


def url_for(name, objects):
    try:
        return reverse(name)
    except NoReverseMatch:
        key = next(k for prefix, k in ARGUMENTS if name.startswith(prefix))
        if key == "qid":
            return reverse(name, kwargs={"qid": objects["qid"]})
        if key not in objects:
            # A kind of object this world lacks may only be the Managers' (feeds):
            # one of a network would need its A and B objects here.
            assert PAGES[name][0] == Role.MANAGER, f"add {key!r} objects to the scope test"
            return reverse(name, kwargs={"pk": 1})
        return reverse(name, kwargs={"pk": objects[key].pk})


# Query strings that name B, or look for what B holds, on pages without an argument.
PROBES = [
    "?network={b}",
    "?open={b}",
    "?q=10.0.0.5",
    "?q=bravo",
    "?q=10.0.0.0/24",
    "?q=db.",
    "?group=qid",
    "?network={b}&group=qid",
    "?targets=10.0.0.5&network={b}",
]

# B's objects hold these: a page about A's may show A's, never B's.
NAMED_BY_B = {"network", "appliance", "host", "group", "scan", "schedule", "import", "report"}


@pytest.mark.parametrize("role", [Role.SCANNER, Role.READER])
def test_no_page_shows_anything_of_another_network(client, world, role):
    user = world["users"][role]
    client.force_login(user)
    b_id = world["b"]["network"].pk
    checked = 0
    for name in project_url_names():
        if name in ("accounts:logout", "api_token"):
            continue
        for side in ("a", "b"):
            url = url_for(name, world[side])
            # htmx fragments once (the Scanner sees every fragment a Reader does).
            variants = [{}, {"HTTP_HX_REQUEST": "true"}] if role == Role.SCANNER else [{}]
            for headers in variants:
                response = client.get(url, **headers)
                body = text_of(response)
                assert not leaks(body, url), (name, side, url, headers, leaks(body, url))
                checked += 1
                uses_b = url != url_for(name, world["a"])
                if side == "b" and uses_b:
                    # B's object does not exist for this user: answered as an id
                    # that names nothing is (404; 403 where the role is refused first).
                    assert response.status_code in (403, 404), (name, url, response.status_code)
                    unknown = client.get(url_for(name, nowhere(world["b"])), **headers)
                    assert response.status_code == unknown.status_code, (name, url)
        if "<" not in name and reverse_takes_no_argument(name):
            for probe in PROBES:
                url = url_for(name, world["a"]) + probe.format(b=b_id)
                response = client.get(url)
                body = text_of(response)
                assert not leaks(body, url), (name, url, leaks(body, url))
    assert checked > 150  # every page, with A's objects and with B's


def reverse_takes_no_argument(name) -> bool:
    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def test_posts_to_another_networks_objects_answer_404_and_change_nothing(client, world):
    client.force_login(world["users"][Role.SCANNER])
    b = world["b"]
    for name in project_url_names():
        if name in ("accounts:logout", "api_token", "accounts:login"):
            continue
        url_a = url_for(name, world["a"])
        url_b = url_for(name, b)
        if url_a == url_b:
            continue
        data = {"title": "x", "name": "x", "network": b["network"].pk}
        response = client.post(url_b, data)
        assert response.status_code in (403, 404, 405), (name, response.status_code)
        unknown = client.post(url_for(name, nowhere(b)), data)
        assert response.status_code == unknown.status_code, name
    assert AssetGroup.objects.filter(pk=b["group"].pk).exists()
    assert Schedule.objects.filter(pk=b["schedule"].pk, active=True).exists()
    assert Scan.objects.get(pk=b["scan"].pk).status == "finished"


def _api_routes():
    """(route name, its URL keyword arguments) of every API route."""
    from config.api_urls import router

    for pattern in router.get_urls():
        kwargs = list(pattern.pattern.regex.groupindex)
        if "format" in kwargs or not pattern.name or pattern.name == "api-root":
            continue
        yield pattern.name, kwargs


API_OBJECT = {
    "user": "user",
    "network": "network",
    "appliance": "appliance",
    "asset-group": "group",
    "tag": "tag",
    "connector": "connector",
    "host": "host",
    "scan": "scan",
    "schedule": "schedule",
    "option-profile": "profile",
    "detection": "detection",
    "kb": "qid",
    "import": "import",
    "report": "report",
    "report-schedule": "report_schedule",
}


def _api_url(name, kwargs, objects) -> str:
    """The route's URL naming ``objects``' object of its kind (a route of a kind
    this test does not know gets id 1: Managers' resources, answered 403)."""
    if not kwargs:
        return reverse(name)
    key = API_OBJECT.get(name.rsplit("-", 1)[0])
    value = 1 if key is None else objects[key] if key == "qid" else objects[key].pk
    return reverse(name, kwargs={kwargs[0]: value})


@pytest.mark.parametrize("role", [Role.SCANNER, Role.READER])
def test_no_api_answer_shows_anything_of_another_network(world, role):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(world["users"][role])
    b_id = world["b"]["network"].pk
    routes = list(_api_routes())
    assert len(routes) > 30
    for name, kwargs in routes:
        for side in ("a", "b"):
            url = _api_url(name, kwargs, world[side])
            if side == "a":  # the browsable API's page of A's object: its edit form
                body = text_of(api.get(url, HTTP_ACCEPT="text/html"))
                assert not leaks(body, url), (url, "html", leaks(body, url))
            response = api.get(url)
            if kwargs and name.rsplit("-", 1)[0] not in API_OBJECT:
                # A kind this world lacks may only be the Managers' (feeds).
                assert response.status_code == 403, f"add {name}'s objects to the scope test"
            body = text_of(response)
            assert not leaks(body, url), (url, leaks(body, url))
            if side == "b" and url != _api_url(name, kwargs, world["a"]):
                assert response.status_code in (403, 404, 405), (url, response.status_code)
                unknown = api.get(_api_url(name, kwargs, nowhere(world["b"])))
                assert response.status_code == unknown.status_code, url
        if not kwargs:
            # The browsable API too: its forms offer related objects to pick.
            url = reverse(name)
            body = text_of(api.get(url, HTTP_ACCEPT="text/html"))
            assert not leaks(body, url), (url, "html", leaks(body, url))
            for query in (
                f"?network={b_id}",
                "?q=10.0.0.5",
                "?q=bravo",
                "?ip=10.0.0.5",
                "?group=qid",
            ):
                url = reverse(name) + query
                body = text_of(api.get(url))
                assert not leaks(body, url), (url, leaks(body, url))


def test_api_writes_to_another_network_are_refused_without_naming_it(world):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(world["users"][Role.SCANNER])
    b, a = world["b"], world["a"]
    for path in ("asset-groups", "schedules", "scans"):
        obj = {"asset-groups": "group", "schedules": "schedule", "scans": "scan"}[path]
        if path != "scans":
            assert api.patch(f"/api/v1/{path}/{b[obj].pk}/", {"title": "x"}).status_code == 404
            assert api.delete(f"/api/v1/{path}/{b[obj].pk}/").status_code == 404
    assert api.post(f"/api/v1/scans/{b['scan'].pk}/cancel/").status_code == 404
    refused = [
        api.post(
            "/api/v1/scans/",
            {"title": "t", "type": "discovery", "network": b["network"].pk, "targets": "10.0.0.5"},
            format="json",
        ),
        api.post(
            "/api/v1/scans/",
            {
                "title": "t",
                "type": "discovery",
                "network": a["network"].pk,
                "appliance": b["appliance"].pk,
                "asset_groups": [b["group"].pk],
            },
            format="json",
        ),
        api.post(
            "/api/v1/asset-groups/",
            {"title": "t", "network": b["network"].pk, "ips": "10.0.0.5"},
            format="json",
        ),
        api.post(
            "/api/v1/reports/",
            {"title": "t", "format": "csv", "network": b["network"].pk, "targets": "10.0.0.5"},
            format="json",
        ),
        api.post(
            "/api/v1/reports/",
            {"title": "t", "format": "csv", "asset_groups": [b["group"].pk]},
            format="json",
        ),
        api.patch(f"/api/v1/tags/{a['tag'].pk}/", {"hosts": [b["host"].pk]}, format="json"),
    ]
    for response in refused:
        assert response.status_code == 400, response.content
        assert not [w for w in B_WORDS if w in response.content.decode()], response.content
    # A PATCH of a tag's hosts replaces only the caller's: B's host keeps its tag.
    assert (
        api.patch(f"/api/v1/tags/{a['tag'].pk}/", {"hosts": []}, format="json").status_code == 200
    )
    assert set(a["tag"].hosts.values_list("pk", flat=True)) == {b["host"].pk}
    assert not Scan.objects.filter(title="t").exists()


def test_a_report_on_all_networks_holds_only_the_owners(world):
    from reports.services import report_create, report_generate
    from tests.reports.helpers import pdf_pages

    user = world["users"][Role.READER]
    for format in ("csv", "html", "pdf"):
        report = report_create(
            actor=user, title="all of it", format=format, network="all", targets="10.0.0.0/16"
        )
        report_generate(report=report)
        report.refresh_from_db()
        if format == "pdf":
            text = "\n".join(pdf_pages(report.file.path))
        else:
            text = report.file.read().decode()
        assert "Alpha Corp" in text and "10.0.0.5" in text, format
        assert "db.alpha.example" in text, format
        assert not leaks(text), (format, leaks(text))
    # The Manager's report about B is not theirs to download: it does not exist for them.
    from django.test import Client

    client = Client()
    client.force_login(user)
    b_report = world["b"]["report"]
    assert client.get(reverse("reports:report_download", args=[b_report.pk])).status_code == 404


def test_losing_a_network_stops_the_users_schedules_with_the_reason(world):
    from reports.services.schedules import report_schedules_run_due
    from scans.services.schedules import schedules_run_due

    a = world["a"]
    scanner = world["users"][Role.SCANNER]
    manager = world["manager"]
    schedule = Schedule.objects.create(
        title="mine",
        type="discovery",
        network=a["network"],
        targets="10.0.0.5",
        option_profile=a["profile"],
        recurrence="daily",
        start=timezone.now(),
        next_run=timezone.now() - timedelta(minutes=1),
        owner=scanner,
    )
    report_schedule = ReportSchedule.objects.create(
        title="my weekly",
        template=a["template"],
        recurrence=ReportRecurrence.WEEKLY,
        start=timezone.now(),
        next_run=timezone.now() + timedelta(days=1),
        owner=scanner,
        target_network=a["network"],
        targets="10.0.0.5",
    )
    # Beat runs it within the owner's networks: it launches.
    assert schedules_run_due() == 1
    network_access_set(actor=manager, user=scanner, networks=[])
    schedule.refresh_from_db()
    report_schedule.refresh_from_db()
    for stopped in (schedule, report_schedule):
        assert not stopped.active
        assert "no longer has access to network 'Alpha Corp'" in stopped.last_error
    assert AuditEntry.objects.filter(
        object_type="user",
        object_id=str(scanner.pk),
        changes__networks=["Alpha Corp", "no network"],
    ).exists()
    # A grant changed behind the services' back (the admin, SQL) is caught at the run.
    network_access_set(actor=manager, user=scanner, networks=[a["network"]])
    Schedule.objects.filter(pk=schedule.pk).update(
        active=True, next_run=timezone.now() - timedelta(minutes=1)
    )
    ReportSchedule.objects.filter(pk=report_schedule.pk).update(
        active=True, next_run=timezone.now() - timedelta(minutes=1)
    )
    scanner.network_access.networks.clear()
    assert schedules_run_due() == 0
    assert report_schedules_run_due() == 0
    schedule.refresh_from_db()
    report_schedule.refresh_from_db()
    assert not schedule.active and "no longer has access" in schedule.last_error
    assert not report_schedule.active and "no longer has access" in report_schedule.last_error


def test_managers_see_every_network_whatever_their_grant(client, world):
    manager = world["manager"]
    network_access_set(actor=None, user=manager, networks=[world["a"]["network"]])
    # Their schedules in B go on.
    assert Schedule.objects.get(pk=world["b"]["schedule"].pk).active
    client.force_login(manager)
    body = client.get(reverse("assets:overlap_list")).content.decode()
    assert "Bravo Holdings" in body and "Alpha Corp" in body
    assert (
        client.get(reverse("assets:host_detail", args=[world["b"]["host"].pk])).status_code == 200
    )


def test_users_api_reads_and_writes_the_grant(world):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(world["manager"])
    a, b = world["a"]["network"], world["b"]["network"]
    created = api.post(
        "/api/v1/users/",
        {
            "username": "newbie",
            "password": "a-long-passphrase-9",
            "role": "reader",
            "networks": [b.pk],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["networks"] == [b.pk]
    user_id = created.json()["id"]
    changed = api.patch(f"/api/v1/users/{user_id}/", {"networks": [a.pk, b.pk]}, format="json")
    assert changed.json()["networks"] == sorted([a.pk, b.pk])
    assert (
        api.patch(f"/api/v1/users/{user_id}/", {"networks": "all"}, format="json").json()[
            "networks"
        ]
        == "all"
    )
    bad = api.patch(f"/api/v1/users/{user_id}/", {"networks": [99999999]}, format="json")
    assert bad.status_code == 400 and bad.json() == {"networks": ["No network with id 99999999."]}
    assert (
        api.patch(f"/api/v1/users/{user_id}/", {"networks": "some"}, format="json").status_code
        == 400
    )
    assert api.get(f"/api/v1/users/{world['manager'].pk}/").json()["networks"] == "all"


def test_the_user_page_shows_and_edits_the_grant(client, world):
    client.force_login(world["manager"])
    reader = world["users"][Role.READER]
    page = client.get(reverse("accounts:user_update", args=[reader.pk])).content.decode()
    assert reverse("networks:user_access", args=[reader.pk]) in page
    section = client.get(
        reverse("networks:user_access", args=[reader.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "sees only" in section and "Alpha Corp" in section and "<html" not in section
    b = world["b"]["network"]
    response = client.post(
        reverse("networks:user_access", args=[reader.pk]),
        {"scope": "chosen", "networks": [b.pk]},
    )
    assert response.status_code == 302
    assert list(reader.network_access.networks.all()) == [b]
    response = client.post(reverse("networks:user_access", args=[reader.pk]), {"scope": "all"})
    reader.network_access.refresh_from_db()
    assert reader.network_access.all_networks


# --- Property: whatever the grant, a user sees exactly their networks ---------------------


@pytest.fixture
def four_networks(db):
    """Four networks on the same addresses, each with the host 10.0.0.5 and one finding."""
    vulnerability = VulnerabilityFactory(qid=38170, title="SSL Certificate Expired", severity=4)
    networks, hosts = [], []
    for n in range(4):
        network = _network(None, f"Net {n}")
        host = Host.objects.create(network=network, ip="10.0.0.5", dns=f"h{n}.example")
        Detection.objects.create(
            network=network,
            host=host,
            vulnerability=vulnerability,
            severity=4,
            status="active",
            port=443,
            protocol="tcp",
            first_found=timezone.now(),
            last_found=timezone.now(),
        )
        networks.append(network)
        hosts.append(host)
    from assets.services import host_counts_refresh

    host_counts_refresh()
    return networks, hosts


@hypothesis.settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        hypothesis.HealthCheck.function_scoped_fixture,
        hypothesis.HealthCheck.too_slow,
    ],
)
@hypothesis.given(
    role=st.sampled_from([Role.READER, Role.SCANNER, Role.MANAGER]),
    grant=st.none() | st.sets(st.integers(0, 3)),
)
def test_any_grant_shows_exactly_the_granted_networks(four_networks, role, grant):
    from rest_framework.test import APIClient

    from assets.selectors import hosts_visible, network_overlaps
    from networks.selectors import networks_visible

    networks, hosts = four_networks
    user = UserFactory(username=f"prop-{role}", role=role)
    network_access_set(
        actor=None, user=user, networks=None if grant is None else [networks[i] for i in grant]
    )
    user = type(user).objects.get(pk=user.pk)  # as a new request would load it
    everything = grant is None or role == Role.MANAGER
    expected = {networks[i].pk for i in (range(4) if everything else grant)}
    # Every network (the built-in ones too), or exactly the granted ones.
    assert set(networks_visible(user=user).values_list("pk", flat=True)) == (
        set(Network.objects.values_list("pk", flat=True)) if everything else expected
    )
    assert {h.network_id for h in hosts_visible(user=user)} == expected
    pairs = {frozenset((o.network_a.pk, o.network_b.pk)) for o in network_overlaps(user=user)}
    assert pairs == {frozenset((a, b)) for a in expected for b in expected if a != b}

    api = APIClient()
    api.force_authenticate(user)
    listed = api.get("/api/v1/hosts/?page_size=100").json()
    assert {row["network"] for row in listed["results"]} == expected
    assert listed["count"] == len(expected)
    for host in hosts:
        status = api.get(f"/api/v1/hosts/{host.pk}/").status_code
        assert status == (200 if host.network_id in expected else 404)
    found = api.get("/api/v1/search/?q=10.0.0.5").json()
    assert {row["network"] for row in found["hosts"]} == expected
    rows = api.get("/api/v1/vulnerabilities/").json()["results"]
    assert {row["network"] for row in rows} == expected
    detections = api.get("/api/v1/detections/?page_size=100").json()["results"]
    assert {row["network"] for row in detections} <= expected
    assert len(detections) == len(expected)


def test_the_users_list_says_what_each_user_sees(client, world, django_assert_max_num_queries):
    client.force_login(world["manager"])
    UserFactory(username="nobody-granted", role=Role.READER)
    network_access_set(
        actor=None,
        user=UserFactory(username="seeing-both", role=Role.SCANNER),
        networks=[world["b"]["network"], world["a"]["network"]],
    )
    network_access_set(
        actor=None, user=UserFactory(username="seeing-none", role=Role.READER), networks=[]
    )
    with django_assert_max_num_queries(12):
        page = client.get(reverse("accounts:user_list")).content.decode()
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        if cells:
            rows[cells[0]] = cells[3]  # username, e-mail, role, networks
    assert rows["boss"] == "All networks"
    assert rows["nobody-granted"] == "All networks"
    assert rows["a-reader"] == "Alpha Corp"
    assert rows["seeing-both"] == "Alpha Corp, Bravo Holdings"
    assert rows["seeing-none"] == "No network"
