from zoneinfo import ZoneInfo

from django.contrib.auth.middleware import LoginRequiredMiddleware as BaseLoginRequired
from django.utils import timezone

from console.times import timezone_names


class LoginRequiredMiddleware(BaseLoginRequired):
    """Every page needs a login; the API answers 401 itself instead of redirecting."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class UserTimezoneMiddleware:
    """Pages show times in the signed-in user's time zone (``User.timezone``).

    The API keeps the server's zone (UTC by default): scripts read its ISO
    times with their offset and should not see them change with the account.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            not request.path_info.startswith("/api/")
            and user is not None
            and user.is_authenticated
            and user.timezone in timezone_names()
        ):
            timezone.activate(ZoneInfo(user.timezone))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
