"""What the assets app announces to the floors above it (which it must not import)."""

from django.dispatch import Signal

# Sent inside the transaction, just before hosts are deleted (a cloud instance's
# host purged, or the address it held taken by another instance), with
# ``host_ids``: the scans app takes their open findings off the network counters
# before the rows cascade away.
hosts_deleting = Signal()
