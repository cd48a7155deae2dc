from django.db import migrations

DEFAULTS = [
    {
        "title": "Host-based findings, by host",
        "sort": "host",
        "description": "Every open finding (New, Active, Re-Opened) of every severity and type, "
        "grouped by host: IP, network, DNS, OS, then its findings.",
    },
    {
        "title": "Host-based findings, by vulnerability",
        "sort": "vulnerability",
        "description": "Every open finding (New, Active, Re-Opened) of every severity and type, "
        "grouped by vulnerability: QID, title, CVEs, solution, then each affected IP "
        "with its network.",
    },
]


def create_defaults(apps, schema_editor):
    ReportTemplate = apps.get_model("reports", "ReportTemplate")
    for default in DEFAULTS:
        ReportTemplate.objects.get_or_create(
            title=default["title"],
            defaults={
                "sort": default["sort"],
                "description": default["description"],
                "severities": [5, 4, 3, 2, 1],
                "statuses": ["new", "active", "reopened"],
                "kinds": ["confirmed", "potential", "info"],
                "is_builtin": True,
            },
        )


def remove_defaults(apps, schema_editor):
    ReportTemplate = apps.get_model("reports", "ReportTemplate")
    ReportTemplate.objects.filter(title__in=[d["title"] for d in DEFAULTS], is_builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
