from django.core.management.base import BaseCommand

from assets import services


class Command(BaseCommand):
    help = "Recounts Network.host_count and the hosts in both networks of every overlapping pair."

    def handle(self, *args, **options):
        services.host_counts_refresh()
        pairs = services.overlaps_refresh()
        self.stdout.write(f"{pairs} overlapping network pair(s) counted.")
