"""Severity 1-5 as people read it: the number with its word, in its colour.

The words are the KnowledgeBase's (scans.models.Severity: "5 - Urgent"); they
live here, below the apps, so every app's pages print them the same way.
"""

from django.utils.html import format_html
from django.utils.safestring import SafeString

SEVERITY_NAMES = {5: "Urgent", 4: "Critical", 3: "Serious", 2: "Medium", 1: "Minimal"}
SEVERITIES = (5, 4, 3, 2, 1)  # the order tables show them in: worst first


def severity_name(value) -> str:
    """ "5 Urgent", or the value as given when it is not a severity."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return str(value)
    name = SEVERITY_NAMES.get(number)
    return f"{number} {name}" if name else str(value)


def severity_badge(value) -> SafeString:
    """The severity's number and word on its colour ("5 Urgent" on dark red)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    return format_html('<span class="sev sev-{}">{}</span>', number, severity_name(value))
