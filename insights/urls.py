from django.urls import path

from . import views

app_name = "insights"

urlpatterns = [
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("dashboard/scans/", views.DashboardScansView.as_view(), name="dashboard_scans"),
    path("vulnerabilities/", views.VulnerabilityListView.as_view(), name="vulnerability_list"),
    path(
        "vulnerabilities/export/",
        views.VulnerabilityExportView.as_view(),
        name="vulnerability_export",
    ),
    path("search/", views.SearchView.as_view(), name="search"),
    path("hosts/<int:pk>/history/", views.HostHistoryView.as_view(), name="host_history"),
]
