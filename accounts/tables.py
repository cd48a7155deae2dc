import json
from collections.abc import Callable

import django_tables2 as tables
from django.utils.html import format_html_join

from console.tables import WhenColumn

from .models import AuditEntry, User

# Which networks each user sees is the networks app's (a floor above): it hands
# in, at start, a reader of {user id: "All networks" | "Acme, Globex"} for a page
# of users, and the table shows it.
NetworkAccessReader = Callable[[list[User]], dict[int, str]]
_network_access_reader: NetworkAccessReader | None = None


def network_access_reader_set(reader: NetworkAccessReader | None) -> None:
    global _network_access_reader
    _network_access_reader = reader


class UserTable(tables.Table):
    username = tables.Column(linkify=("accounts:user_update", {"pk": tables.A("pk")}))
    role = tables.Column(accessor="effective_role", verbose_name="Role", orderable=False)
    networks = tables.Column(empty_values=(), orderable=False, verbose_name="Networks")
    last_login = WhenColumn()

    class Meta:
        empty_text = "No users."
        model = User
        fields = ("username", "email", "role", "networks", "is_active", "last_login")
        attrs = {"class": "users"}

    def render_role(self, value):
        return value.capitalize()

    def render_networks(self, record):
        if not hasattr(self, "_access"):
            # One read for the page's users (the reader's few queries), not per row.
            users = [row.record for row in self.paginated_rows]
            reader = _network_access_reader
            self._access = reader(users) if reader is not None else {}
        return self._access.get(record.pk, "—")


def _change_value(value) -> str:
    """A recorded value as one line: text as is, anything else as compact JSON
    (an update's [before, after], a count, the first ids of a bulk change)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class AuditEntryTable(tables.Table):
    created_at = WhenColumn(seconds=True, verbose_name="When")
    actor_name = tables.Column(verbose_name="Who")
    changes = tables.Column(orderable=False)

    def render_changes(self, value):
        # One line a field (indented JSON took a row's height per key and bracket).
        return format_html_join(
            "",
            '<div class="change"><span class="muted">{}</span> {}</div>',
            ((key, _change_value(v)) for key, v in value.items()),
        )

    class Meta:
        empty_text = "Nothing recorded yet."
        model = AuditEntry
        fields = ("created_at", "actor_name", "action", "object_type", "object_repr", "changes")
