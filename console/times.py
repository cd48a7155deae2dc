"""Times as people read them: in the user's time zone, with the zone's name.

Each user picks a time zone (accounts: ``User.timezone``, default UTC); the
request activates it (accounts.middleware.UserTimezoneMiddleware) and every
page prints its times through ``when``: "2026-12-07 15:03 CET", so a time
copied into a ticket or a mail still says which clock it is on.

Templates: ``{{ value|when }}`` and ``{{ value|when:"seconds" }}`` (the
filters are built in: config.settings TEMPLATES ``builtins``; Django's
``|date`` would need a format with "T" at every use, and forget it once). Tables:
``console.tables.WhenColumn`` or ``when(...)`` in a FastBodyTable cell.
Plain Python, no template engine per call: a table of 100 rows calls it 200
times.
"""

from datetime import date, datetime, tzinfo
from functools import cache
from zoneinfo import available_timezones

from django import template
from django.utils import timezone

EMPTY = "—"


def when(value, zone: tzinfo | None = None, *, seconds: bool = False) -> str:
    """ "2026-12-07 15:03 CET" in the active time zone (or ``zone``); with
    ``seconds``, "2026-12-07 15:03:09 CET". None or "" gives "—"; a date (no
    time of day) prints as the date alone, a naive datetime as given."""
    if value in (None, ""):
        return EMPTY
    if not isinstance(value, datetime):
        return value.isoformat() if isinstance(value, date) else str(value)
    if timezone.is_aware(value):
        value = value.astimezone(zone or timezone.get_current_timezone())
    stamp = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}"
    )
    if seconds:
        stamp += f":{value.second:02d}"
    name = value.tzname()
    return f"{stamp} {name}" if name else stamp


def local_date(value, *, zone: tzinfo | None = None) -> str:
    """The day a moment falls on in the active time zone ("2026-12-07")."""
    if value in (None, ""):
        return EMPTY
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = value.astimezone(zone or timezone.get_current_timezone())
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


# Files of the zone database that are no zone a person lives in: "localtime" is
# whatever the server's clock is set to, "Factory" prints "-00".
NOT_ZONES = {"localtime", "posixrules", "Factory"}


@cache
def timezone_names() -> frozenset[str]:
    """The IANA zone names a user may pick: zoneinfo's, less NOT_ZONES."""
    return frozenset(available_timezones() - NOT_ZONES)


def timezone_choices() -> list[tuple[str, str]]:
    """Every zone a user may pick, sorted, UTC first: a form's choices."""
    names = sorted(timezone_names() - {"UTC"})
    return [("UTC", "UTC"), *((name, name) for name in names)]


register = template.Library()


@register.filter("when")
def when_filter(value, arg: str = "") -> str:
    """``{{ value|when }}``; nothing for no value, like ``|date``, so
    ``|default:"never"`` still reads."""
    return "" if value in (None, "") else when(value, seconds=arg == "seconds")


@register.filter("local_date")
def local_date_filter(value) -> str:
    return "" if value in (None, "") else local_date(value)
