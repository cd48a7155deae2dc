"""``{% load findings %}``: the markup of findings written in scans.tables, for
templates: ``{{ vulnerability|exploitation }}`` (its Known exploited and EPSS
badges) and ``{{ detections|finding_rows }}`` (a host's findings as table rows)."""

from django import template

from ..tables import exploitation, host_finding_rows

register = template.Library()

register.filter("exploitation", exploitation)
register.filter("finding_rows", host_finding_rows)
