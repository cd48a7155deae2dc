"""Demo users, overlapping networks and a few made-up findings, idempotently
(make run calls it every time).

Nothing here is scanned: the demo hosts and findings of the two company
networks are invented so the first screen has something to show, and carry the
tag "demo data" and an evidence line that says so. The Lab network is this
machine's loopback, where the one demo appliance that `make run` starts scans
only when a user launches a scan.
"""

import random
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Role, User
from assets.models import Host, Tag
from core import iprange
from insights import services as insight_services
from networks import services as network_services
from networks.models import Network, ScannerAppliance
from scans.models import Detection, DetectionStatus, Vulnerability
from scans.services.ingest import network_counters_refresh

DEMO_USERS = [
    ("manager", Role.MANAGER, "manager-demo-pass"),
    ("scanner", Role.SCANNER, "scanner-demo-pass"),
    ("reader", Role.READER, "reader-demo-pass"),
    # The acquired company's own team: sees Globex and nothing else.
    ("globex", Role.READER, "globex-demo-pass"),
]
# Demo users who see only some networks (network access); the others see all.
DEMO_GRANTS = {"globex": ["Globex (acquired)"]}

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

DEMO_TAG = "demo data"
EVIDENCE = "Demo finding: made up by seed_demo, never scanned."
# (network, last octets of 10.0.x.y, DNS name, OS): 10.0.0.5 is in both networks.
DEMO_HOSTS = [
    ("Acme Corp", "0.5", "web.acme.example", "Ubuntu 22.04"),
    ("Acme Corp", "0.6", "mail.acme.example", "Debian 12"),
    ("Acme Corp", "0.10", "files.acme.example", "Windows Server 2019"),
    ("Acme Corp", "1.20", "vpn.acme.example", "FreeBSD 13"),
    ("Globex (acquired)", "0.5", "db.globex.example", "CentOS 7"),
    ("Globex (acquired)", "0.7", "intranet.globex.example", "Windows Server 2012"),
    ("Globex (acquired)", "0.9", "legacy-ftp.globex.example", "Debian 8"),
]
# Findings drawn from the shipped KnowledgeBase.
DEMO_QIDS = [38107, 38104, 38102, 38105, 38605, 38607, 27001, 105100, 105200, 38700, 86100]


class Command(BaseCommand):
    help = (
        "Creates demo users (one per role), overlapping demo networks, and a few made-up "
        "hosts and findings (tagged 'demo data', never scanned)."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        for username, role, password in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                account_services.user_create(
                    actor=None, username=username, password=password, role=role
                )
                self.stdout.write(f"user {username} ({role}) / {password}")
        networks = {}
        for name, description, space, appliances in DEMO_NETWORKS:
            network = Network.objects.filter(name__iexact=name).first()
            if network is None:
                network = network_services.network_create(
                    actor=None, name=name, description=description, address_space=space
                )
                self.stdout.write(f"network {name}: {network.address_space}")
            networks[name] = network
            for appliance in appliances:
                if not ScannerAppliance.objects.filter(name=appliance).exists():
                    network_services.appliance_create(actor=None, name=appliance, network=network)
        for username, names in DEMO_GRANTS.items():
            user = User.objects.get(username=username)
            if not hasattr(user, "network_access"):
                network_services.network_access_set(
                    actor=None, user=user, networks=[networks[n] for n in names]
                )
                self.stdout.write(f"user {username} sees only {', '.join(names)}")
        if not Tag.objects.filter(name=DEMO_TAG).exists():
            self._findings(networks)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def _findings(self, networks: dict[str, Network]) -> None:
        """Made-up hosts and findings over the last 60 days, then their history."""
        rng = random.Random(2026)
        now = timezone.now()
        tag = Tag.objects.create(name=DEMO_TAG)
        kb = list(Vulnerability.objects.filter(qid__in=DEMO_QIDS))
        for network_name, octets, dns, os_name in DEMO_HOSTS:
            network = networks[network_name]
            ip = f"10.0.{octets}"
            host = Host.objects.create(
                network=network,
                ip=ip,
                ip_key=iprange.ip_key(ip),
                dns=dns,
                os=os_name,
                first_found=now - timedelta(days=60),
                last_scanned=now - timedelta(hours=rng.randint(1, 30)),
            )
            host.tags.add(tag)
            for vulnerability in rng.sample(kb, rng.randint(2, 6)):
                # As scans would have left it: New is from the host's last scan,
                # Active was seen before that too, Fixed was last seen before it
                # was fixed (and fixed before now).
                first = now - timedelta(days=rng.randint(1, 59), hours=rng.randint(0, 23))
                status = rng.choices(
                    [DetectionStatus.FIXED, DetectionStatus.NEW, DetectionStatus.ACTIVE],
                    weights=[1, 1.5, 1.5],
                )[0]
                last, fixed_at = host.last_scanned, None
                first = min(first, last)  # a host scanned 30 h ago found nothing since
                if status == DetectionStatus.NEW:
                    first = last
                elif status == DetectionStatus.FIXED:
                    fixed_at = min(first + timedelta(days=rng.randint(1, 9)), last)
                    last = max(first, fixed_at - timedelta(days=1))
                Detection.objects.create(
                    network=network,
                    host=host,
                    vulnerability=vulnerability,
                    severity=vulnerability.severity,
                    port=443 if vulnerability.check_name == "tls" else 0,
                    protocol="tcp" if vulnerability.check_name == "tls" else "",
                    status=status,
                    first_found=first,
                    last_found=last,
                    times_found=1 if status == DetectionStatus.NEW else rng.randint(2, 9),
                    fixed_at=fixed_at,
                    results=EVIDENCE,
                )
        for network in (networks["Acme Corp"], networks["Globex (acquired)"]):
            network_counters_refresh(network=network)
            insight_services.trends_snapshot(network=network)
            insight_services.trends_backfill(network=network)
        self.stdout.write(f"{len(DEMO_HOSTS)} demo hosts with made-up findings (tag '{DEMO_TAG}')")
