"""Demo users and overlapping networks, idempotently (make run calls it every time)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services as account_services
from accounts.models import Role, User
from networks import services as network_services
from networks.models import Network, ScannerAppliance

DEMO_USERS = [
    ("manager", Role.MANAGER, "manager-demo-pass"),
    ("scanner", Role.SCANNER, "scanner-demo-pass"),
    ("reader", Role.READER, "reader-demo-pass"),
]

# The Lab network is loopback only: the one appliance `make run` starts lives
# there, so nothing the demo does reaches beyond this machine. The two company
# networks overlap on purpose (a merger); their appliances are registered but
# never started, so they show offline.
DEMO_NETWORKS = [
    (
        "Lab",
        "This machine's loopback: the demo appliance 'lab' scans here.",
        "127.0.0.0/8",
        ["lab"],
    ),
    ("Acme Corp", "Headquarters network.", "10.0.0.0/16, 172.16.0.0/20", ["acme-hq-1"]),
    (
        "Globex (acquired)",
        "Acquired company: same 10.0.0.0/16 as Acme, isolated from it.",
        "10.0.0.0/16, 192.168.1.0/24",
        ["globex-1", "globex-2"],
    ),
]


class Command(BaseCommand):
    help = "Creates demo users (one per role) and demo networks with overlapping ranges."

    @transaction.atomic
    def handle(self, *args, **options):
        for username, role, password in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                account_services.user_create(
                    actor=None, username=username, password=password, role=role
                )
                self.stdout.write(f"user {username} ({role}) / {password}")
        for name, description, space, appliances in DEMO_NETWORKS:
            network = Network.objects.filter(name__iexact=name).first()
            if network is None:
                network = network_services.network_create(
                    actor=None, name=name, description=description, address_space=space
                )
                self.stdout.write(f"network {name}: {network.address_space}")
            for appliance in appliances:
                if not ScannerAppliance.objects.filter(name=appliance).exists():
                    network_services.appliance_create(actor=None, name=appliance, network=network)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
