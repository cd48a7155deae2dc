import django_tables2 as tables

from console.tables import WhenColumn

from .models import AuditEntry, User


class UserTable(tables.Table):
    username = tables.Column(linkify=("accounts:user_update", {"pk": tables.A("pk")}))
    role = tables.Column(accessor="effective_role", verbose_name="Role", orderable=False)
    last_login = WhenColumn()

    class Meta:
        empty_text = "No users."
        model = User
        fields = ("username", "email", "role", "is_active", "last_login")
        attrs = {"class": "users"}

    def render_role(self, value):
        return value.capitalize()


class AuditEntryTable(tables.Table):
    created_at = WhenColumn(seconds=True, verbose_name="When")
    actor_name = tables.Column(verbose_name="Who")
    changes = tables.JSONColumn(orderable=False)

    class Meta:
        empty_text = "Nothing recorded yet."
        model = AuditEntry
        fields = ("created_at", "actor_name", "action", "object_type", "object_repr", "changes")
