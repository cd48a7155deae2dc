"""Role checks shared by pages and the API.

A page or API view names the least role that may read it and the least role
that may write through it; anything else is refused (403, or 401 without a login).
"""

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from rest_framework import permissions

from .models import Role


class RoleRequiredMixin(AccessMixin):
    """Class-based page views: ``required_role`` for GET/HEAD, ``write_role`` for the rest."""

    required_role = Role.READER
    write_role = Role.MANAGER

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        role = self.required_role if request.method in ("GET", "HEAD") else self.write_role
        if not request.user.has_role(role):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class RolePermission(permissions.BasePermission):
    """DRF: ``read_role`` for safe methods, ``write_role`` for the rest (views set them)."""

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in permissions.SAFE_METHODS:
            role = getattr(view, "read_role", Role.READER)
        else:
            role = getattr(view, "write_role", Role.MANAGER)
        return user.has_role(role)
