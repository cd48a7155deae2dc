"""A host's findings over time (insights.selectors.host_history and its
fragment on the host page): open from the day first found to the day fixed."""

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from insights import selectors
from tests.factories import DetectionFactory, HostFactory, NetworkFactory, VulnerabilityFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 15)


def at(day: date, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()) + timedelta(hours=hour))


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


@pytest.fixture
def host():
    acme = NetworkFactory(name="Acme", space="10.0.0.0/16")
    host = HostFactory(network=acme, ip="10.0.0.5")
    urgent = VulnerabilityFactory(qid=991005, severity=5)
    medium = VulnerabilityFactory(qid=991003, severity=3)
    old = VulnerabilityFactory(qid=991002, severity=2)
    # Open since 10 days ago; found 20 days ago and fixed 5 days ago; fixed long ago.
    DetectionFactory(host=host, vulnerability=urgent, first_found=at(ago(10)), status="active")
    DetectionFactory(
        host=host,
        vulnerability=medium,
        first_found=at(ago(20)),
        status="fixed",
        fixed_at=at(ago(5)),
    )
    DetectionFactory(
        host=host,
        vulnerability=old,
        first_found=at(ago(300)),
        status="fixed",
        fixed_at=at(ago(200)),
    )
    # Another host's finding is not this host's history.
    DetectionFactory(host=HostFactory(network=acme, ip="10.0.0.6"), vulnerability=urgent)
    return host


def test_each_day_counts_what_was_open_new_and_fixed(host):
    points = {p.date: p for p in selectors.host_history(host=host, days=30, today=TODAY)}
    assert len(points) == 30 and min(points) == ago(29) and max(points) == TODAY
    assert (points[ago(25)].open, points[ago(25)].serious) == (0, 0)
    assert (points[ago(20)].open, points[ago(20)].new) == (1, 1)
    assert (points[ago(10)].open, points[ago(10)].serious, points[ago(10)].new) == (2, 1, 1)
    assert (points[ago(6)].open, points[ago(5)].open, points[ago(5)].fixed) == (2, 1, 1)
    assert (points[TODAY].open, points[TODAY].serious) == (1, 1)
    assert sum(p.new for p in points.values()) == 2
    assert sum(p.fixed for p in points.values()) == 1  # the one fixed 200 days ago is not in


def test_a_finding_older_than_the_period_counts_open_from_its_first_day(host):
    points = selectors.host_history(host=host, days=8, today=TODAY)
    assert [p.open for p in points] == [2, 2, 1, 1, 1, 1, 1, 1]  # 7 days ago on; fixed 5 days ago
    assert sum(p.new for p in points) == 0


def test_the_host_page_loads_the_history_and_the_fragment_draws_it(host, client_as):
    reader = client_as("reader")
    url = reverse("insights:host_history", args=[host.pk])
    page = reader.get(host.get_absolute_url()).content.decode()
    assert f'hx-get="{url}"' in page
    fragment = reader.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<svg" in fragment and "Findings of 10.0.0.5 over time" in fragment
    assert "<html" not in fragment
    assert "<html" in reader.get(url).content.decode()  # without JavaScript: a page


def test_a_host_without_findings_says_so(client_as):
    bare = HostFactory(network=NetworkFactory(name="Bare", space="10.9.0.0/16"), ip="10.9.0.1")
    fragment = client_as("reader").get(
        reverse("insights:host_history", args=[bare.pk]), headers={"HX-Request": "true"}
    )
    assert "No findings on this host" in fragment.content.decode()
