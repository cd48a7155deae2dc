"""Appliance names become queue names: ASCII letters, digits, - and _, unique in any case.

Existing names are checked first. A name the new rule refuses, or two names that
differ only in case, stop the migration with the list of them: rename those
appliances (Scanner Appliances page or API) with the previous version and migrate
again. Renaming them here would silently change the queue a running appliance
consumes.
"""

import re

import django.core.validators
import django.db.models.functions.text
from django.db import migrations, models

NAME = re.compile(r"\A[A-Za-z0-9_-]+\Z")


def refuse_bad_names(apps, schema_editor):
    ScannerAppliance = apps.get_model("networks", "ScannerAppliance")
    names = list(ScannerAppliance.objects.order_by("name").values_list("name", flat=True))
    problems = [f"'{name}' uses characters other than letters, digits, - and _"
                for name in names if not NAME.match(name)]
    by_case: dict[str, list[str]] = {}
    for name in names:
        by_case.setdefault(name.lower(), []).append(name)
    problems += [f"{' and '.join(repr(n) for n in same)} differ only in case"
                 for same in by_case.values() if len(same) > 1]
    if problems:
        raise RuntimeError(
            "Scanner appliance names must be letters, digits, - and _ and unique "
            "regardless of case; rename these appliances, then migrate again: "
            + "; ".join(problems)
        )


class Migration(migrations.Migration):

    dependencies = [
        ("networks", "0002_built_in_networks"),
    ]

    operations = [
        migrations.RunPython(refuse_bad_names, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="scannerappliance",
            name="name",
            field=models.CharField(
                max_length=64,
                validators=[
                    django.core.validators.RegexValidator(
                        "\\A[A-Za-z0-9_-]+\\Z",
                        code="invalid_appliance_name",
                        message="An appliance name may use only letters (A-Z, a-z), digits, "
                        "- and _: it names the appliance's queue.",
                    )
                ],
            ),
        ),
        migrations.AddConstraint(
            model_name="scannerappliance",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"), name="appliance_name_unique_ci"
            ),
        ),
    ]
