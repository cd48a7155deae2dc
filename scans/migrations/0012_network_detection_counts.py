"""Fills Network.detection_count (networks 0005) from the detections a
network holds; from here on ingest and host deletions move it."""

from django.db import migrations
from django.db.models import Count


def count_detections(apps, schema_editor):
    Network = apps.get_model("networks", "Network")
    Detection = apps.get_model("scans", "Detection")
    counts = dict(Detection.objects.values_list("network_id").annotate(n=Count("id")).order_by())
    for network_id, n in counts.items():
        Network.objects.filter(pk=network_id).update(detection_count=n)


class Migration(migrations.Migration):
    dependencies = [
        ("networks", "0005_network_detection_count"),
        ("scans", "0011_detection_list_and_trend_indexes"),
    ]

    operations = [migrations.RunPython(count_detections, migrations.RunPython.noop)]
