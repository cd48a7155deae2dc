"""What the scans app does when hosts go (assets.signals.hosts_deleting)."""

from django.db.models import Count

from networks.services import network_counters_add

from ..models import OPEN_STATUSES, Detection


def detections_forget_hosts(*, host_ids: list[int]) -> None:
    """Takes the open findings of hosts about to be deleted off their networks'
    counters (the detections themselves cascade with the hosts). One grouped query."""
    by_network: dict[int, dict[str, int]] = {}
    for start in range(0, len(host_ids), 500):
        rows = (
            Detection.objects.filter(
                host_id__in=host_ids[start : start + 500], status__in=OPEN_STATUSES
            )
            .values("network_id", "severity")
            .annotate(n=Count("id"))
        )
        for row in rows:
            counts = by_network.setdefault(row["network_id"], {})
            counts[str(row["severity"])] = counts.get(str(row["severity"]), 0) - row["n"]
    for network_id, counts in sorted(by_network.items()):
        network_counters_add(network_id=network_id, open_findings=counts)
