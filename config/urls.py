from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name=settings.ENCLAVE_HOME_URL), name="home"),
    # Browsers ask for /favicon.ico whatever the page says.
    path(
        "favicon.ico",
        login_not_required(RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
    ),
    path("accounts/", include("accounts.urls")),
    # The overlap view lives with the assets it counts; the Networks tab links it here too.
    path(
        "networks/overlaps/",
        RedirectView.as_view(pattern_name="assets:overlap_list", query_string=True),
    ),
    path("networks/", include("networks.urls")),
    path("assets/", include("assets.urls")),
    path("scans/", include("scans.urls")),
    path("reports/", include("reports.urls")),
    path("", include("insights.urls")),
    path("api/v1/", include("config.api_urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("admin/", admin.site.urls),
]
