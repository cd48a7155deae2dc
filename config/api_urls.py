"""The REST API under /api/v1/ (API.md). Each app registers its own resources."""

from importlib import import_module

from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

router = DefaultRouter()
for app in ("accounts", "networks", "assets", "scans", "reports"):
    import_module(f"{app}.api").register(router)

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api_token"),
    *router.urls,
]
