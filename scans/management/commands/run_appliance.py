"""``manage.py run_appliance NAME``: a scanner appliance.

A Celery worker that consumes only ``appliance.<NAME>`` and sends heartbeats
(with its version and nmap's) to the central "ingest" queue. It never touches
the database: it may run inside a network that cannot reach it.
"""

import os
import socket

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from networks.models import validate_appliance_name


class Command(BaseCommand):
    help = "Runs a scanner appliance: consumes appliance.<NAME> and sends heartbeats."
    # System checks may query the database; an appliance has none to ask.
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("name", help="The appliance's name, as registered in Enclave.")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.ENCLAVE_APPLIANCE_SLICES,
            help="Slices run at the same time (default: ENCLAVE_APPLIANCE_SLICES, "
            "%(default)s; the platform sends each appliance that many and a few more).",
        )
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args, name: str, concurrency: int, loglevel: str, **options):
        try:
            validate_appliance_name(name)
        except ValidationError as error:
            raise CommandError(f"'{name}' is not an appliance name: {error.messages[0]}") from None
        # Celery's Django fixup runs system checks at start unless told not to.
        os.environ.setdefault("CELERY_SKIP_CHECKS", "1")
        from celery import current_app as app

        from networks.models import appliance_queue
        from scans.appliance import STATE
        from scans.engine.runner import ENGINE_VERSION, nmap_version

        nmap = nmap_version()
        if not nmap:
            self.stderr.write("nmap is not installed; slices will fail until it is.")
        from celery import signals

        def started(**kwargs):
            STATE.start(
                name=name, version=str(ENGINE_VERSION), nmap_version=nmap, slots=concurrency
            )

        def stopping(**kwargs):
            STATE.stop()

        signals.worker_ready.connect(started, weak=False)
        signals.worker_shutting_down.connect(stopping, weak=False)
        self.stdout.write(
            f"Appliance {name}: queue {appliance_queue(name)}, heartbeat every "
            f"{settings.ENCLAVE_HEARTBEAT_INTERVAL}s, nmap {nmap or 'missing'}"
        )
        app.worker_main(
            argv=[
                "worker",
                "--queues",
                appliance_queue(name),
                # Threads: the task sees revocations (cancel) the main thread receives.
                "--pool",
                "threads",
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"appliance.{name}@{socket.gethostname()}",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                loglevel,
            ]
        )
