"""What the scans app tells the floors above it, without importing them."""

from django.dispatch import Signal

# Sent once the transaction that ended a scan (finished or error) has
# committed: ``scan_id``, ``network_id``. The insights app takes the
# network's figures of the day again.
scan_finished = Signal()
