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
