"""Cloud clients of the connectors (DESIGN.md): plain Python, no Django, no ORM.

Each client takes its settings (credentials included) as a dataclass and
returns what it found as plain dataclasses (``base.Discovery``); the assets
services (``assets.connector_services``, ``assets.cloud_sync``) do the
database work. ``CLIENTS`` is the explicit registry of kinds.
"""

from . import aws, azure

CLIENTS = {"aws_ec2": aws.discover, "azure": azure.discover}
