"""Trend history: the daily snapshot per network, its arithmetic, the back-fill
from detection dates, and the snapshot taken again when a scan ends."""

from datetime import date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from insights import services
from insights.models import Exposure, HostExposure, NetworkTrend
from networks.services import network_counters_set
from scans.models import DetectionStatus
from tests.factories import DetectionFactory, HostFactory, NetworkFactory, VulnerabilityFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 15)


def at(day: date, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()) + timedelta(hours=hour))


@pytest.fixture
def acme():
    return NetworkFactory(name="Acme", space="10.0.0.0/16")


@pytest.fixture
def findings(acme):
    """Three hosts; open and fixed findings found and fixed on known days."""
    urgent = VulnerabilityFactory(qid=991005, severity=5)
    medium = VulnerabilityFactory(qid=991002, severity=2)
    a, b, c = (HostFactory(network=acme, ip=f"10.0.0.{i}") for i in (1, 2, 3))
    yesterday, two_days = TODAY - timedelta(days=1), TODAY - timedelta(days=2)
    DetectionFactory(host=a, vulnerability=urgent, first_found=at(TODAY, 9))
    DetectionFactory(host=b, vulnerability=urgent, first_found=at(two_days), status="active")
    DetectionFactory(host=a, vulnerability=medium, first_found=at(yesterday), status="reopened")
    # Fixed today after 3 days open, and fixed yesterday after 1 day.
    DetectionFactory(
        host=c,
        vulnerability=urgent,
        first_found=at(TODAY - timedelta(days=3)),
        status=DetectionStatus.FIXED,
        fixed_at=at(TODAY),
    )
    DetectionFactory(
        host=c,
        vulnerability=medium,
        first_found=at(two_days),
        status=DetectionStatus.FIXED,
        fixed_at=at(yesterday),
    )
    network_counters_set(network_id=acme.pk, hosts=3, open_findings={"5": 2, "2": 1})
    return urgent, medium, (a, b, c)


def test_snapshot_arithmetic(acme, findings):
    urgent, medium, (a, b, c) = findings
    trend = services.trends_snapshot(network=acme, day=TODAY)
    assert trend.hosts == 3
    assert trend.open_by_severity == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 2}
    assert trend.open_by_status == {"new": 1, "active": 1, "reopened": 1}
    assert (trend.new, trend.fixed) == (1, 1)  # found today; fixed today
    assert trend.mttr_days_by_severity == {"5": 3.0}
    # Taken again the same day: still one row, refreshed.
    network_counters_set(network_id=acme.pk, hosts=4)
    services.trends_snapshot(network=acme, day=TODAY)
    assert NetworkTrend.objects.get(network=acme, date=TODAY).hosts == 4
    assert NetworkTrend.objects.count() == 1
    # The stored exposure: hosts per open QID, the worst hosts first.
    exposure = {e.qid: (e.hosts, e.detections) for e in Exposure.objects.filter(network=acme)}
    assert exposure == {urgent.qid: (2, 2), medium.qid: (1, 1)}
    ranked = list(HostExposure.objects.filter(network=acme).values_list("host_id", flat=True))
    assert ranked == [a.pk, b.pk]  # a: one urgent and one medium; b: one urgent; c: none open


def test_backfill_rebuilds_the_days_before_the_history(acme, findings):
    # Today was taken on the day; the back-fill keeps it and writes the others.
    services.trends_snapshot(network=acme, day=TODAY)
    written = services.trends_backfill(network=acme, until=TODAY)
    assert written == 3  # three days before today, from the first finding on
    rows = {t.date: t for t in NetworkTrend.objects.filter(network=acme)}
    first = rows[TODAY - timedelta(days=3)]
    assert first.backfilled and (first.new, first.fixed) == (1, 0)
    assert first.open_by_severity["5"] == 1
    two = rows[TODAY - timedelta(days=2)]
    assert (two.new, two.fixed) == (2, 0)
    assert (two.open_by_severity["5"], two.open_by_severity["2"]) == (2, 1)
    one = rows[TODAY - timedelta(days=1)]
    assert (one.new, one.fixed) == (1, 1)
    assert (one.open_by_severity["5"], one.open_by_severity["2"]) == (2, 1)
    assert one.mttr_days_by_severity == {"2": 1.0}
    assert not rows[TODAY].backfilled  # the day's own snapshot is kept
    assert services.trends_backfill(network=acme, until=TODAY) == 0  # nothing left to do


def test_backfill_command_names_an_unknown_network(acme, findings, capsys):
    call_command("trends_backfill", "Acme")
    assert "Acme:" in capsys.readouterr().out
    with pytest.raises(Exception, match="No network named nowhere"):
        call_command("trends_backfill", "nowhere")


def test_a_finished_scan_takes_its_networks_snapshot(
    acme, monkeypatch, django_capture_on_commit_callbacks
):
    """scans sends scan_finished after the commit; insights snapshots that network."""
    from insights import tasks
    from scans import services as scan_services
    from scans.models import ScanSlice

    taken = []
    monkeypatch.setattr(tasks.trends_snapshot, "delay", lambda **kw: taken.append(kw))
    lab = NetworkFactory(name="Lab", space="127.0.0.0/8")
    scan = scan_services.scan_launch(
        actor=None, title="t", type="discovery", network=lab, targets="127.0.0.1"
    )
    piece = ScanSlice.objects.get(scan=scan)
    from core.results import SliceResult

    with django_capture_on_commit_callbacks(execute=True):
        scan_services.slice_ingest(
            result=SliceResult(
                scan_id=scan.pk,
                slice_id=piece.pk,
                appliance="lab-1",
                started="2026-01-01T00:00:00+00:00",
                finished="2026-01-01T00:00:01+00:00",
            )
        )
    assert taken == [{"network_id": lab.pk}]


def test_trend_series_sums_the_networks_day_by_day(acme):
    from insights.selectors import trend_series

    globex = NetworkFactory(name="Globex", space="10.0.0.0/16")
    yesterday = TODAY - timedelta(days=1)
    for network, day, new, fixed, open_by_severity in [
        (acme, yesterday, 3, 1, {"5": 2, "1": 4}),
        (globex, yesterday, 2, 0, {"3": 1}),  # severities absent count 0
        (acme, TODAY, 1, 2, {}),
    ]:
        NetworkTrend.objects.create(
            network=network, date=day, new=new, fixed=fixed, open_by_severity=open_by_severity
        )
    points = trend_series(networks=[acme, globex], days=3, today=TODAY)
    assert [(p.date, p.new, p.fixed, p.open) for p in points] == [
        (TODAY - timedelta(days=2), 0, 0, 0),
        (yesterday, 5, 1, 7),
        (TODAY, 1, 2, 0),
    ]
    only = trend_series(networks=[globex], days=2, today=TODAY)
    assert [(p.new, p.open) for p in only] == [(2, 1), (0, 0)]
