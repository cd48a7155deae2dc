"""Every URL of the project, called by each role: anonymous, Reader, Scanner, Manager.

The tables below are the contract. A URL added without a line here fails
``test_every_url_is_in_the_matrix``, so no page escapes the check.
"""

import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import (
    NoReverseMatch,
    Resolver404,
    URLPattern,
    URLResolver,
    get_resolver,
    resolve,
    reverse,
)
from django.utils import timezone

from accounts.models import ROLE_RANK, Role
from assets.models import Connector, Tag
from reports.models import (
    Report,
    ReportRecurrence,
    ReportSchedule,
    ReportStatus,
    ReportTemplate,
)
from scans.models import FeedImport, OptionProfile, Scan, ScanImport, Schedule, Vulnerability
from tests.factories import (
    ApplianceFactory,
    AssetGroupFactory,
    HostFactory,
    NetworkFactory,
    UserFactory,
)

R, S, M = Role.READER, Role.SCANNER, Role.MANAGER
PUBLIC = "public"

# url name: (least role for GET, least role for POST); None: the method is not offered.
PAGES = {
    "home": (R, None),
    "insights:dashboard": (R, None),
    "insights:dashboard_scans": (R, None),
    "insights:search": (R, None),
    "insights:vulnerability_list": (R, None),
    "insights:vulnerability_export": (R, None),
    "insights:host_history": (R, None),
    "accounts:login": (PUBLIC, PUBLIC),
    "accounts:logout": (None, PUBLIC),
    "accounts:user_list": (M, None),
    "accounts:user_create": (M, M),
    "accounts:user_update": (M, M),
    "accounts:audit_list": (M, None),
    "accounts:profile": (R, R),  # every user sets their own time zone
    "networks:network_list": (R, None),
    "networks:user_access": (M, M),
    "networks:network_create": (M, M),
    "networks:network_detail": (R, None),
    "networks:network_update": (M, M),
    "networks:network_delete": (M, M),
    "networks:appliance_list": (R, None),
    "networks:appliance_detail": (R, None),
    "networks:appliance_create": (M, M),
    "networks:appliance_update": (M, M),
    "networks:appliance_delete": (M, M),
    "assets:host_list": (R, None),
    "assets:host_detail": (R, None),
    "assets:host_tags": (None, S),
    "assets:network_hosts": (R, None),
    "assets:asset_group_list": (R, None),
    "assets:asset_group_create": (S, S),
    "assets:asset_group_detail": (R, None),
    "assets:asset_group_update": (S, S),
    "assets:asset_group_delete": (S, S),
    "assets:tag_list": (R, None),
    "assets:tag_create": (S, S),
    "assets:tag_update": (S, S),
    "assets:tag_delete": (S, S),
    "assets:overlap_list": (R, None),
    "assets:overlap_refresh": (None, S),
    "assets:connector_list": (M, None),
    "assets:connector_create": (M, M),
    "assets:connector_detail": (M, None),
    "assets:connector_update": (M, M),
    "assets:connector_run": (None, M),
    "assets:connector_delete": (M, M),
    "scans:scan_list": (R, None),
    "scans:scan_create": (S, S),
    "scans:scan_detail": (R, None),
    "scans:scan_cancel": (S, S),  # GET asks for confirmation, POST cancels
    "scans:scan_results": (R, None),
    "scans:host_detections": (R, None),
    "scans:appliance_slices": (R, None),
    "scans:schedule_list": (R, None),
    "scans:schedule_create": (S, S),
    "scans:schedule_detail": (R, None),
    "scans:schedule_update": (S, S),
    "scans:schedule_delete": (S, S),
    "scans:option_profile_list": (R, None),
    "scans:option_profile_create": (S, S),
    "scans:option_profile_update": (S, S),
    "scans:import_list": (R, None),
    "scans:import_create": (S, S),
    "scans:import_detail": (R, None),
    "scans:kb_list": (R, None),
    "scans:feed_list": (M, None),
    "scans:feed_create": (M, M),
    "scans:feed_detail": (M, None),
    "scans:kb_detail": (R, None),
    "reports:report_list": (R, None),
    "reports:report_create": (R, R),
    "reports:template_list": (R, None),
    "reports:template_create": (S, S),
    "reports:template_update": (S, S),
    "reports:template_delete": (S, S),
    # A report is its owner's (here: the Reader's) or any Manager's; others get 404.
    "reports:report_detail": ("owner", None),
    "reports:report_download": ("owner", None),
    "reports:report_delete": ("owner", "owner"),
    # A report schedule too: every role schedules its own reports.
    "reports:schedule_list": (R, None),
    "reports:schedule_create": (R, R),
    "reports:schedule_detail": ("owner", None),
    "reports:schedule_update": ("owner", "owner"),
    "reports:schedule_delete": ("owner", "owner"),
    # The API's own pages: the schema and its browsable docs, for logged-in users.
    "api_token": (None, PUBLIC),
    "api_schema": ("api", None),
    "api_docs": ("api", None),
    "api-root": ("api", None),
}

# API resource: (least role to read, least role to write); None: read-only resource.
API = {
    "users": (M, M),
    "networks": (R, M),
    "appliances": (R, M),
    "hosts": (R, None),
    "asset-groups": (R, S),
    "tags": (R, S),
    "networks/overlaps": (R, None),
    "connectors": (M, M),
    "scans": (R, S),
    "option-profiles": (R, S),
    "schedules": (R, S),
    "detections": (R, None),
    "kb": (R, None),
    "imports": (R, S),
    "feeds": (M, M),
    "reports": (R, R),
    "report-schedules": (R, R),
    "trends": (R, None),
    "search": (R, None),
    "vulnerabilities": (R, None),
}


def project_url_names():
    def walk(resolver, namespace=None):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue
                yield from walk(pattern, pattern.namespace or namespace)
            elif (
                isinstance(pattern, URLPattern)
                and pattern.name
                and not str(pattern.pattern).startswith("^")
            ):  # DRF router: see API below
                yield f"{namespace}:{pattern.name}" if namespace else pattern.name

    return sorted(set(walk(get_resolver())))


def test_every_url_is_in_the_matrix():
    missing = [n for n in project_url_names() if n not in PAGES]
    assert not missing, f"add these URLs to the role matrix: {missing}"


def test_every_api_resource_is_in_the_matrix():
    from config.api_urls import router

    assert {prefix for prefix, _, _ in router.registry} - set(API) == set()
    assert "schedules" in API


@pytest.fixture
def world(db):
    """One of everything a URL can name."""
    owner = UserFactory(username="reader-user", role=R)
    network = NetworkFactory(name="Acme", space="10.0.0.0/16")
    profile = OptionProfile.objects.filter(is_default=True).first() or OptionProfile.objects.create(
        name="Default", is_default=True
    )
    vulnerability = Vulnerability.objects.first()
    template = ReportTemplate.objects.create(title="t")
    return {
        "user": owner,
        "network": network,
        "appliance": ApplianceFactory(network=network),
        "host": HostFactory(network=network, ip="10.0.0.5"),
        "group": AssetGroupFactory(network=network),
        "tag": Tag.objects.create(name="dmz"),
        "connector": Connector.objects.create(name="cloud", kind="aws_ec2", scopes=["eu-west-1"]),
        "scan": Scan.objects.create(
            title="s", type="discovery", network=network, targets="10.0.0.5", option_profile=profile
        ),
        "profile": profile,
        "schedule": Schedule.objects.create(
            title="nightly",
            type="discovery",
            network=network,
            targets="10.0.0.5",
            option_profile=profile,
            recurrence="daily",
            start=timezone.now(),
            next_run=timezone.now() + timedelta(days=1),
        ),
        "qid": vulnerability.qid,
        "import": ScanImport.objects.create(
            scan=Scan.objects.create(
                title="i", kind="import", type="vulnerability", network=network
            ),
            format="nessus",
            filename="a.nessus",
            size=1,
            sha256="0" * 64,
        ).scan,
        "feed": FeedImport.objects.create(kind="kev", filename="kev.json", size=1, sha256="0" * 64),
        "report": Report.objects.create(
            title="r",
            owner=owner,
            format="csv",
            status=ReportStatus.FINISHED,
            file=ContentFile(b"ip,network\n", name="r.csv"),
        ),
        "template": template,
        "report_schedule": ReportSchedule.objects.create(
            title="weekly",
            template=template,
            recurrence=ReportRecurrence.WEEKLY,
            start=timezone.now() + timedelta(days=1),
            owner=owner,
        ),
    }


# Which object a URL's argument names, by the URL name's prefix (first match wins).
ARGUMENTS = [
    ("accounts:user_", "user"),
    ("networks:network_", "network"),
    ("networks:user_", "user"),
    ("networks:appliance_", "appliance"),
    ("assets:host_", "host"),
    ("assets:network_hosts", "network"),
    ("assets:asset_group_", "group"),
    ("assets:tag_", "tag"),
    ("assets:connector_", "connector"),
    ("scans:scan_", "scan"),
    ("scans:host_", "host"),
    ("insights:host_", "host"),
    ("scans:appliance_", "appliance"),
    ("scans:schedule_", "schedule"),
    ("scans:option_profile_", "profile"),
    ("scans:kb_", "qid"),
    ("scans:import_", "import"),
    ("scans:feed_", "feed"),
    ("reports:report_", "report"),
    ("reports:template_", "template"),
    ("reports:schedule_", "report_schedule"),
]


def url_for(name, world):
    try:
        return reverse(name)
    except NoReverseMatch:  # the URL takes an argument
        key = next(k for prefix, k in ARGUMENTS if name.startswith(prefix))
        value = world[key] if key == "qid" else world[key].pk
        kwarg = "qid" if key == "qid" else "pk"
        return reverse(name, kwargs={kwarg: value})


def allowed(least, role):
    if least == "nobody":  # the method is not offered
        return False
    if least in (PUBLIC, "api"):
        return True
    if least == "owner":
        return role in (R, M)  # the owner is the Reader; Managers see every report
    return ROLE_RANK[role] >= ROLE_RANK[least]


def page_cases():
    for name, (get_role, post_role) in PAGES.items():
        for role in (None, R, S, M):
            if get_role is not None:
                yield name, "get", get_role, role
            if post_role is not None:
                yield name, "post", post_role, role


@pytest.mark.parametrize("name, method, least, role", list(page_cases()))
def test_page_role_matrix(client, world, name, method, least, role):
    if role is not None:
        user = world["user"] if role == R else UserFactory(username=f"{role}-user", role=role)
        client.force_login(user)
    url = url_for(name, world)
    response = getattr(client, method)(url)
    if least == PUBLIC:
        assert response.status_code in (200, 302, 400)
    elif least == "api":  # DRF pages answer 401/403 instead of redirecting
        assert response.status_code == (200 if role else 401)
    elif role is None:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    elif allowed(least, role):
        # Served (a page, or a form re-shown with its errors) or done (a redirect);
        # a 400 would say nothing about whether the role got through.
        assert response.status_code in (200, 302), response.status_code
    elif least == "owner":
        assert response.status_code == 404
    else:
        assert response.status_code == 403


def api_cases():
    for prefix, (read_role, write_role) in API.items():
        for role in (None, R, S, M):
            yield prefix, read_role, write_role, role


@pytest.mark.parametrize("prefix, read_role, write_role, role", list(api_cases()))
def test_api_role_matrix(api_as, world, prefix, read_role, write_role, role):
    from rest_framework.test import APIClient

    api = APIClient() if role is None else api_as(role)
    url = f"/api/v1/{prefix}/"
    listing = api.get(url)
    write = api.post(url, {}, format="json")
    if role is None:
        assert (listing.status_code, write.status_code) == (401, 401)
        return
    assert listing.status_code == (200 if allowed(read_role, role) else 403)
    if write_role is None:
        assert write.status_code in (403, 405)
    elif allowed(write_role, role):
        # Allowed, and the empty body refused by the serializer or the service:
        # field errors, not a permission message.
        assert write.status_code == 400, write.content
        assert "detail" not in write.json(), write.json()
    else:
        assert write.status_code == 403


# --- The scope dimension: Scanners and Readers granted some networks -------------------------

# URL arguments that name an object of one network.
SCOPED = {"network", "appliance", "host", "group", "scan", "schedule", "import"}


def _argument(name) -> str | None:
    try:
        reverse(name)
    except NoReverseMatch:
        return next(k for prefix, k in ARGUMENTS if name.startswith(prefix))
    return None


def scoped_page_cases():
    for name, (get_role, post_role) in PAGES.items():
        if _argument(name) not in SCOPED:
            continue
        for role in (R, S):
            for scope in ("granted", "elsewhere"):
                if get_role is not None:
                    yield name, "get", get_role, role, scope
                if post_role is not None:
                    yield name, "post", post_role, role, scope


@pytest.mark.parametrize("name, method, least, role, scope", list(scoped_page_cases()))
def test_page_role_matrix_with_network_grants(client, world, name, method, least, role, scope):
    """Granted the object's network, a user meets the role matrix; granted only
    another network, the object does not exist for them (404), whatever the role
    would allow (a 403 may come first, before the object is looked up)."""
    from networks.services import network_access_set

    user = world["user"] if role == R else UserFactory(username=f"{role}-user", role=role)
    granted = world["network"] if scope == "granted" else NetworkFactory(name="Elsewhere")
    network_access_set(actor=None, user=user, networks=[granted])
    client.force_login(user)
    response = getattr(client, method)(url_for(name, world))
    if scope == "elsewhere":
        expected = (404,) if allowed(least, role) else (403, 404)
    else:
        expected = (200, 302) if allowed(least, role) else (403,)
    assert response.status_code in expected, response.status_code


# API resources whose objects belong to one network, and the world's object of each.
SCOPED_API = {
    "networks": "network",
    "appliances": "appliance",
    "hosts": "host",
    "asset-groups": "group",
    "scans": "scan",
    "schedules": "schedule",
    "imports": "import",
}


@pytest.mark.parametrize("prefix", sorted(SCOPED_API))
@pytest.mark.parametrize("role", [R, S])
@pytest.mark.parametrize("scope", ["granted", "elsewhere"])
def test_api_role_matrix_with_network_grants(api_as, world, prefix, role, scope):
    from networks.services import network_access_set
    from tests.factories import UserFactory as Users

    user = world["user"] if role == R else Users(username=f"{role}-user", role=role)
    granted = world["network"] if scope == "granted" else NetworkFactory(name="Elsewhere")
    network_access_set(actor=None, user=user, networks=[granted])
    api = api_as(role)
    pk = world[SCOPED_API[prefix]].pk
    listed = api.get(f"/api/v1/{prefix}/?page_size=1000")
    assert listed.status_code == 200
    ids = {row["id"] for row in listed.json()["results"]}
    detail = api.get(f"/api/v1/{prefix}/{pk}/")
    if scope == "granted":
        assert pk in ids and detail.status_code == 200
    else:
        assert pk not in ids and detail.status_code == 404


@pytest.mark.parametrize("role", [R, S, M])
def test_no_page_links_to_a_page_its_user_may_not_open(client, world, role):
    """A Reader is not shown a link that answers 403 (a tag's or an option
    profile's name once led to its form)."""
    user = world["user"] if role == R else UserFactory(username=f"{role}-user", role=role)
    client.force_login(user)
    forbidden = set()
    for name, (get_role, _) in PAGES.items():
        if get_role in (None, PUBLIC, "api") or not allowed(get_role, role):
            continue
        page = client.get(url_for(name, world))
        if page.status_code != 200 or not page["Content-Type"].startswith("text/html"):
            continue  # a redirect, a download
        for href in re.findall(r'<a\b[^>]*?\shref="([^"#?]+)', page.content.decode()):
            try:
                target = resolve(href).view_name
            except Resolver404:
                continue
            if target in PAGES and not allowed(PAGES[target][0] or "nobody", role):
                forbidden.add((name, href))
    assert not forbidden
