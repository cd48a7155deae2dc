from django.db import migrations

BUILT_IN = [
    ("global_default", "Global Default Network",
     "Every address that is not in a custom network."),
    ("global_ec2", "Global EC2 Network",
     "Assets found by the AWS EC2 connector outside any custom network."),
    ("global_azure", "Global Azure Network",
     "Assets found by the Azure connector outside any custom network."),
]


def create_built_in(apps, schema_editor):
    Network = apps.get_model("networks", "Network")
    for kind, name, description in BUILT_IN:
        Network.objects.get_or_create(kind=kind, defaults={"name": name,
                                                           "description": description})


class Migration(migrations.Migration):
    dependencies = [("networks", "0001_initial")]

    operations = [migrations.RunPython(create_built_in, migrations.RunPython.noop)]
