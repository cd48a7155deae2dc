import logging

from django.apps import AppConfig
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)


def _load_kb(sender, using="default", **kwargs) -> None:
    """The KB ships with the code: every migrate (and test database) gets it.

    A broken engine package must not stop a migration; ingest loads the KB
    again when a result names a QID the table lacks (services.kb.kb_ensure).
    """
    from .services import kb_load

    try:
        kb_load()
    except ImportError as error:
        logger.warning("KnowledgeBase not loaded: the engine's KB does not import (%s)", error)


class ScansConfig(AppConfig):
    name = "scans"

    def ready(self) -> None:
        from assets.signals import hosts_deleting
        from assets.tables import open_findings_reader_set
        from networks.signals import appliance_moved, network_access_lost

        from .selectors import open_findings_by_host

        # Host tables (assets, a floor below) show each host's open findings.
        open_findings_reader_set(open_findings_by_host)
        post_migrate.connect(_load_kb, sender=self, dispatch_uid="scans_load_kb")
        appliance_moved.connect(_appliance_moved, dispatch_uid="scans_appliance_moved")
        hosts_deleting.connect(_hosts_deleting, dispatch_uid="scans_hosts_deleting")
        network_access_lost.connect(_access_lost, dispatch_uid="scans_access_lost")
        from .signals import scan_finished

        scan_finished.connect(_feeds_after_scan, dispatch_uid="scans_feeds_after_scan")


def _feeds_after_scan(sender, scan_id, network_id, **kwargs) -> None:
    """A scan's new inventory is matched against the feeds' knowledge too."""
    from .services.evaluation import feed_evaluation_after_scan

    feed_evaluation_after_scan(scan_id=scan_id, network_id=network_id)


def _appliance_moved(sender, appliance, old_network, **kwargs) -> None:
    from .services.failover import slices_withdraw

    slices_withdraw(appliance=appliance, old_network=old_network)


def _access_lost(sender, user, network_ids, **kwargs) -> None:
    from .services.schedules import schedules_stop_for_lost_networks

    schedules_stop_for_lost_networks(user=user, network_ids=network_ids)


def _hosts_deleting(sender, host_ids, **kwargs) -> None:
    from .services.hosts import detections_forget_hosts

    detections_forget_hosts(host_ids=host_ids)
