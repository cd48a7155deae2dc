"""``{% load severity %}``: ``{{ value|severity }}`` prints "5 Urgent" on its colour."""

from django import template

from console.severity import severity_badge, severity_name

register = template.Library()

register.filter("severity", severity_badge)
register.filter("severity_name", severity_name)
