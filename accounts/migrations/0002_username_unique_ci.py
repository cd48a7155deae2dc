"""Usernames become unique regardless of case.

Existing accounts are checked first: two usernames that differ only in case stop
the migration with their list. Rename (or deactivate and rename) one of each pair
with the previous version, then migrate again: merging or renaming accounts here
would change who can sign in as whom.
"""

import django.db.models.functions.text
from django.db import migrations, models

import accounts.models


def refuse_case_duplicates(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    by_case: dict[str, list[str]] = {}
    for username in User.objects.order_by("username").values_list("username", flat=True):
        by_case.setdefault(username.lower(), []).append(username)
    clashes = [" and ".join(repr(name) for name in same)
               for same in by_case.values() if len(same) > 1]
    if clashes:
        raise RuntimeError(
            "Usernames must be unique regardless of case; rename one user of each "
            "pair, then migrate again: " + "; ".join(clashes)
        )


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(refuse_case_duplicates, migrations.RunPython.noop),
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", accounts.models.EnclaveUserManager()),
            ],
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("username"),
                name="user_username_unique_ci",
                violation_error_message="A user with that username already exists "
                "(usernames are unique regardless of case).",
            ),
        ),
    ]
