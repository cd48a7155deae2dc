from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


@login_not_required
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says, before any login.
    (The static URL is looked up per request: with hashed names it needs the
    manifest, which does not exist before collectstatic.)"""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


urlpatterns = [
    path("", RedirectView.as_view(pattern_name=settings.ENCLAVE_HOME_URL), name="home"),
    path("favicon.ico", favicon),
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
