from django.db import migrations


def create_default(apps, schema_editor):
    OptionProfile = apps.get_model("scans", "OptionProfile")
    if not OptionProfile.objects.filter(is_default=True).exists():
        OptionProfile.objects.create(
            name="Initial Options",
            tcp_port_set="standard",
            service_detection=True,
            checks=[],
            max_parallel_hosts=16,
            host_timeout=300,
            is_default=True,
        )


class Migration(migrations.Migration):
    dependencies = [("scans", "0002_scans_slices_option_profiles")]

    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
