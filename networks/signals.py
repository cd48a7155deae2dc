"""What the networks app tells the floors above it, without importing them."""

from django.dispatch import Signal

# Sent once the transaction that changed a network's address space has
# committed (``network`` = the network). The assets app recounts the hosts of
# overlapping pairs on it.
address_space_changed = Signal()

# Sent inside the transaction that moves an appliance to another network
# (``appliance``, ``old_network``). It can no longer reach the old network's
# machines: the scans app takes back the slices it holds there.
appliance_moved = Signal()

# Sent inside the transaction that narrows a user's network access (``user``,
# ``network_ids``: the networks they lost). The floors above stop that user's
# schedules in those networks and record why.
network_access_lost = Signal()
