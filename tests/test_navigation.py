"""The tabs: one current page, the most specific link the path starts with."""

import re

import pytest

pytestmark = pytest.mark.django_db

from tests.test_role_matrix import world  # noqa: E402, F401  (the fixture: one of everything)


@pytest.mark.parametrize(
    "path, current",
    [
        ("/scans/", "Scans"),
        ("/scans/kb/", "KnowledgeBase"),
        ("/scans/schedules/", "Schedules"),
        ("/scans/option-profiles/", "Option Profiles"),
    ],
)
def test_exactly_one_link_is_the_current_page(client_as, path, current):
    html = client_as("reader").get(path).content.decode()
    subnav = html[html.index('<nav class="subnav"') :]
    subnav = subnav[: subnav.index("</nav>")]
    assert re.findall(r'aria-current="page">([^<]+)<', subnav) == [current]


def test_every_page_has_the_favicon_and_the_old_address_leads_to_it(client, client_as):
    from django.templatetags.static import static

    page = client_as("reader").get("/dashboard/").content.decode()
    assert f'rel="icon" href="{static("img/favicon.svg")}"' in page
    answer = client.get("/favicon.ico")  # no login needed: browsers ask before one
    assert answer.status_code == 301 and answer["Location"] == static("img/favicon.svg")


# Pages whose tab link is not the one their address starts with.
OWNED_ELSEWHERE = {
    "assets:network_hosts": "Host Assets",
    "scans:host_detections": "Host Assets",
    "assets:overlap_list": "Networks",
    "scans:appliance_slices": "Scanner Appliances",
    "insights:search": "Search",
    "accounts:profile": "Your settings",
}


def _navigation(html: str) -> tuple[list[str], list[str], list[str]]:
    """(active top tabs, sub-navigations shown, current links in them)."""
    header = html[: html.index("</header>")]
    active = re.findall(r'<div class="tab active">\s*<span class="tab-name">([^<]+)<', header)
    subnavs = re.findall(r'<nav class="subnav" aria-label="([^"]+)">(.*?)</nav>', html, re.S)
    current = [c for _, body in subnavs for c in re.findall(r'aria-current="page">([^<]+)<', body)]
    return active, [name for name, _ in subnavs], current


@pytest.mark.parametrize("role", ["reader", "manager"])
def test_every_page_keeps_its_tabs_sub_navigation(client, world, role):  # noqa: F811
    """Walks every page of the role matrix that answers the role with HTML:
    one tab highlighted, its sub-navigation shown, one link in it current."""
    from tests.factories import UserFactory
    from tests.test_role_matrix import PAGES, url_for

    user = world["user"] if role == "reader" else UserFactory(username="nav-m", role=role)
    client.force_login(user)
    walked, wrong = 0, []
    for name, (get_role, _) in PAGES.items():
        if get_role is None or get_role in ("public", "api"):
            continue
        response = client.get(url_for(name, world))
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue  # refused to this role, a redirect, a download
        walked += 1
        active, subnavs, current = _navigation(response.content.decode())
        expected = OWNED_ELSEWHERE.get(name)
        if len(active) != 1 or subnavs != active or len(current) != 1:
            wrong.append(f"{name}: tab {active}, sub-navigation {subnavs}, current {current}")
        elif expected and current != [expected]:
            wrong.append(f"{name}: current {current}, expected {expected}")
    assert walked > (30 if role == "reader" else 60)
    assert not wrong, "\n".join(wrong)


def test_an_htmx_fragment_brings_no_navigation(client_as):
    html = client_as("reader").get("/vulnerabilities/", HTTP_HX_REQUEST="true").content.decode()
    assert "subnav" not in html and "<header" not in html
