"""Imports feed files (NVD CVE JSON 2.0, CISA KEV, EPSS) into the KnowledgeBase."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scans.models import FeedKind, ScanStatus
from scans.services.evaluation import feed_evaluate, feed_evaluation_queue
from scans.services.feeds import feed_import_file


class Command(BaseCommand):
    help = (
        "Imports feed files: NVD CVE JSON 2.0 (yearly/modified, gzip or plain), the CISA KEV "
        "catalog (JSON), FIRST EPSS scores (CSV). The kind is told by the content. Then every "
        "network's stored service inventory is matched again (unless --no-evaluate)."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument(
            "--no-evaluate",
            action="store_true",
            help="only import; the inventories are not matched again now",
        )

    def handle(self, *args, files, no_evaluate, **options):
        failed = 0
        last_nvd = None
        for name in files:
            try:
                feed = feed_import_file(path=name, evaluate=False)
            except ValidationError as error:
                failed += 1
                for message in error.message_dict.get("file", error.messages):
                    self.stderr.write(f"{name}: {message}")
                continue
            if feed.status == ScanStatus.ERROR:
                failed += 1
                self.stderr.write(f"{name}: {feed.error} Nothing was changed.")
                continue
            changed = ", ".join(f"{n:,} {what}" for what, n in feed.changed_items) or "nothing"
            note = (
                f" (same file as feed import #{feed.duplicate_of_id})"
                if feed.duplicate_of_id
                else ""
            )
            self.stdout.write(
                f"{name}: {feed.get_kind_display()}, {feed.records:,} records: {changed}{note}"
            )
            if feed.kind == FeedKind.NVD and feed.changed_total:
                last_nvd = feed
        if last_nvd is not None and not no_evaluate:
            # Here, not in a worker: the command ends when the matching is done.
            for run in feed_evaluation_queue(feed=last_nvd, queue=False):
                feed_evaluate(scan_id=run.pk)
                run.refresh_from_db()
                self.stdout.write(
                    f"Network {run.network.name}: {run.hosts_done:,} hosts evaluated, "
                    f"{run.hosts_found:,} with new or fixed findings ({run.get_status_display()})"
                )
        if failed:
            raise CommandError(f"{failed} of {len(files)} file(s) not imported.")
