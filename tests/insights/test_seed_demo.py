"""``manage.py seed_demo``: what `make run` loads every time."""

from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from networks.models import Network, ScannerAppliance


def test_seed_demo_is_idempotent(db):
    call_command("seed_demo")
    call_command("seed_demo")
    assert User.objects.filter(username__in=["manager", "scanner", "reader"]).count() == 3
    acme = Network.objects.get(name="Acme Corp")
    globex = Network.objects.get(name="Globex (acquired)")
    assert "10.0.0.0/16" in acme.address_space and "10.0.0.0/16" in globex.address_space
    assert ScannerAppliance.objects.get(name="lab").network.address_space == "127.0.0.0/8"


def test_seed_demo_fills_the_first_screen_with_marked_made_up_findings(db, client_as):
    from django.urls import reverse

    from assets.models import Host
    from insights.models import NetworkTrend
    from scans.models import Detection, ScanHost

    call_command("seed_demo")
    acme = Network.objects.get(name="Acme Corp")
    demo = Host.objects.filter(tags__name="demo data")
    assert demo.count() == Host.objects.count() >= 7  # every host the demo made is marked
    assert demo.filter(ip="10.0.0.5").count() == 2  # the same IP in both companies
    assert Detection.objects.exclude(results__startswith="Demo finding").count() == 0
    assert not ScanHost.objects.exists()  # nothing was scanned
    # Dates as scans would have left them: nothing fixed in the future or seen
    # after its fix, New seen in one scan only.
    now = timezone.now()
    for d in Detection.objects.all():
        assert d.first_found <= d.last_found <= now, d
        if d.status == "fixed":
            assert d.last_found <= d.fixed_at <= now, d
        else:
            assert d.fixed_at is None, d
        if d.status == "new":
            assert d.first_found == d.last_found and d.times_found == 1, d
    assert {"new", "active", "fixed"} <= set(Detection.objects.values_list("status", flat=True))
    acme.refresh_from_db()
    assert acme.host_count == 4 and sum(acme.open_findings.values()) > 0
    assert NetworkTrend.objects.filter(network=acme).count() > 30  # a history to draw
    page = client_as("reader").get(reverse("insights:dashboard")).content.decode()
    assert "No open findings." not in page and "web.acme.example" not in page
    assert "10.0.0.5" in page  # among the most vulnerable hosts
    call_command("seed_demo")  # again: nothing doubled
    assert Host.objects.count() == demo.count()


def test_seed_demo_has_a_reader_of_the_acquired_network_only(db, client):
    from django.urls import reverse

    call_command("seed_demo")
    call_command("seed_demo")
    globex = User.objects.get(username="globex")
    assert [n.name for n in globex.network_access.networks.all()] == ["Globex (acquired)"]
    client.force_login(globex)
    page = client.get(reverse("assets:host_list")).content.decode()
    assert "Globex (acquired)" in page and "Acme Corp" not in page
