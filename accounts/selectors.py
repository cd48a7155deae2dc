"""Reads about users that pages share."""

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.utils import timezone

from .models import User


def user_sign_in_failures(*, user: User) -> dict:
    """The user's failed sign-ins that still count (within the cool-off), per address,
    and whether one of those addresses is locked out for this user."""
    since = timezone.now() - get_cool_off()
    by_address = list(
        AccessAttempt.objects.filter(username=user.get_username().lower(), attempt_time__gte=since)
        .values("ip_address")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .order_by("-last")
    )
    return {
        "addresses": by_address,
        "locked": any(a["failures"] >= settings.AXES_FAILURE_LIMIT for a in by_address),
    }
