from django.core.management.base import BaseCommand

from scans.services import kb_load


class Command(BaseCommand):
    help = "Loads the KnowledgeBase shipped with the scan engine (idempotent)."

    def handle(self, *args, **options):
        count = kb_load()
        self.stdout.write(f"KnowledgeBase: {count} entries loaded.")
