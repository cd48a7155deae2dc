"""The tabs: one current page, the most specific link the path starts with."""

import re

import pytest

pytestmark = pytest.mark.django_db


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
