"""The REST API under /api/v1/ (API.md). Each app registers its own resources."""

from importlib import import_module

from django.urls import path
from rest_framework.routers import DefaultRouter

from accounts.api import TokenView

router = DefaultRouter()
for app in ("accounts", "networks", "assets", "scans", "reports", "insights"):
    import_module(f"{app}.api").register(router)

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api_token"),
    *router.urls,
]
