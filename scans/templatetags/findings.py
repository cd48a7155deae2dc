"""``{% load findings %}``: ``{{ detections|finding_rows }}`` prints a host's
findings as table rows (scans.tables.host_finding_rows)."""

from django import template

from ..tables import host_finding_rows

register = template.Library()

register.filter("finding_rows", host_finding_rows)
