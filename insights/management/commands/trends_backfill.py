"""``manage.py trends_backfill [NETWORK ...]``: history from detection dates."""

from django.core.management.base import BaseCommand, CommandError

from insights import services
from networks.models import Network


class Command(BaseCommand):
    help = (
        "Rebuilds the daily trend history of networks (all, or those named) from their "
        "detections' first-found and fixed dates, for days not taken yet."
    )

    def add_arguments(self, parser):
        parser.add_argument("networks", nargs="*", help="Network names (default: every network).")

    def handle(self, *args, networks, **options):
        chosen = list(Network.objects.all())
        if networks:
            wanted = {name.lower() for name in networks}
            chosen = [n for n in chosen if n.name.lower() in wanted]
            missing = wanted - {n.name.lower() for n in chosen}
            if missing:
                raise CommandError(f"No network named {', '.join(sorted(missing))}.")
        for network in chosen:
            rows = services.trends_backfill(network=network)
            self.stdout.write(f"{network.name}: {rows} day(s) back-filled")
