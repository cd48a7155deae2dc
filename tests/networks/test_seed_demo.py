"""``manage.py seed_demo``: what `make run` loads every time."""

from django.core.management import call_command

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
