"""Indexes for the global search's "beginning of a DNS or NetBIOS name" on
PostgreSQL (insights.selectors.search): the name upper-cased, in byte order
(COLLATE "C"), then the network. A prefix is then one range of the index, read
in the order the results are listed, whatever the database's collation: "h"
costs what "h12345" does at a million hosts. SQLite's embedded default has no
such scale: nothing there."""

from django.db import migrations

INDEXES = {"host_dns_name_idx": "dns", "host_netbios_name_idx": "netbios"}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON assets_host"
            f' ((UPPER({column}::text) COLLATE "C"), network_id)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("assets", "0005_cloud_connectors")]

    operations = [migrations.RunPython(create, drop)]
