"""What the scans app does when hosts go (assets.signals.hosts_deleting)."""

from django.db.models import Count

from networks.services import network_counters_add

from ..models import OPEN_STATUSES, Detection


def detections_forget_hosts(*, host_ids: list[int]) -> None:
    """Takes the detections of hosts about to be deleted, and the open ones by
    severity, off their networks' counters (the detections themselves cascade
    with the hosts). One grouped query per 500 hosts."""
    open_by_network: dict[int, dict[str, int]] = {}
    all_by_network: dict[int, int] = {}
    for start in range(0, len(host_ids), 500):
        rows = (
            Detection.objects.filter(host_id__in=host_ids[start : start + 500])
            .values_list("network_id", "status", "severity")
            .annotate(n=Count("id"))
            .order_by()
        )
        for network_id, status, severity, n in rows:
            all_by_network[network_id] = all_by_network.get(network_id, 0) - n
            if status in OPEN_STATUSES:
                counts = open_by_network.setdefault(network_id, {})
                counts[str(severity)] = counts.get(str(severity), 0) - n
    for network_id, removed in sorted(all_by_network.items()):
        network_counters_add(
            network_id=network_id,
            open_findings=open_by_network.get(network_id, {}),
            detections=removed,
        )
