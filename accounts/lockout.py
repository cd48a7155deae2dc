"""Sign-in throttling: the policy django-axes applies (settings name these hooks).

Failures are counted per (username, address). ``AXES_FAILURE_LIMIT`` of them lock
that username from that address: colleagues behind the same NAT still sign in,
and nobody can lock a user out from everywhere by failing on purpose. An
address with ``ENCLAVE_LOGIN_ADDRESS_FAILURE_LIMIT`` failures, whatever the
usernames, is locked as a whole: an attacker who rotates usernames is slowed too.
Failures older than the cool-off (``AXES_COOLOFF_TIME``) no longer count; a
refused attempt during a lock is a failure too, so the lock lasts the cool-off
from the last attempt. Usernames are counted in lower case, as sign-in finds
them (accounts.models.EnclaveUserManager).
"""

import math

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

USERNAME_AND_ADDRESS = ["username", "ip_address"]


def attempted_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The username an attempt names, in lower case ("Alice" and "alice" count as one)."""
    if credentials:
        username = credentials.get("username")
    else:
        username = getattr(request, "data", request.POST).get("username")
    return username.lower() if isinstance(username, str) else username


def client_address(request: HttpRequest) -> str:
    """The address a request came from: REMOTE_ADDR, or behind ENCLAVE_PROXY_COUNT
    reverse proxies that each append the address they saw to X-Forwarded-For,
    the entry the outermost one appended (what a client writes there itself sits
    further left and is never taken). A request that did not pass through them
    all has too few entries: its REMOTE_ADDR is taken."""
    remote = request.META.get("REMOTE_ADDR") or ""
    hops = settings.ENCLAVE_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    return forwarded[-hops] if len(forwarded) >= hops else remote


def recent_failures(**match) -> int:
    """Failed sign-ins within the cool-off, for e.g. ``username=`` and/or ``ip_address=``."""
    since = timezone.now() - get_cool_off()
    total = AccessAttempt.objects.filter(attempt_time__gte=since, **match).aggregate(
        n=Sum("failures_since_start")
    )["n"]
    return total or 0


def _address(request_or_attempt) -> str | None:
    return getattr(request_or_attempt, "axes_ip_address", None) or getattr(
        request_or_attempt, "ip_address", None
    )


def lockout_parameters(request_or_attempt, credentials: dict | None = None) -> list:
    """What axes counts failures by: username and address together, and the
    address alone once it has failed too often for every username it tried."""
    address = _address(request_or_attempt)
    if address and (
        recent_failures(ip_address=address) >= settings.ENCLAVE_LOGIN_ADDRESS_FAILURE_LIMIT
    ):
        return [USERNAME_AND_ADDRESS, "ip_address"]
    return [USERNAME_AND_ADDRESS]


def retry_minutes() -> int:
    return max(1, math.ceil(get_cool_off().total_seconds() / 60))


def lockout_message(request: HttpRequest, credentials: dict | None) -> str:
    minutes = retry_minutes()
    wait = f"try again in {minutes} minute{'s' if minutes != 1 else ''}."
    username = attempted_username(request, credentials)
    address = _address(request)
    if username and recent_failures(username=username, ip_address=address) >= (
        settings.AXES_FAILURE_LIMIT
    ):
        return f"Too many failed sign-in attempts for this account; {wait}"
    return f"Too many failed sign-in attempts from your address; {wait}"


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """What a locked-out sign-in gets: 429 with the reason and the wait, as JSON on
    the API (the token endpoint), as a page everywhere else (login page, /admin/)."""
    message = lockout_message(request, credentials)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"message": message, "retry_url": request.get_full_path()},
            status=429,
        )
    response["Retry-After"] = str(retry_minutes() * 60)
    return response
