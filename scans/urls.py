from django.urls import path

from . import views

app_name = "scans"

urlpatterns = [
    path("", views.ScanListView.as_view(), name="scan_list"),
    path("new/", views.ScanCreateView.as_view(), name="scan_create"),
    path("<int:pk>/", views.ScanDetailView.as_view(), name="scan_detail"),
    path("<int:pk>/cancel/", views.ScanCancelView.as_view(), name="scan_cancel"),
    path("<int:pk>/results/", views.ScanResultsView.as_view(), name="scan_results"),
    path(
        "appliances/<int:pk>/slices/",
        views.ApplianceSlicesView.as_view(),
        name="appliance_slices",
    ),
    path(
        "hosts/<int:pk>/findings/",
        views.HostDetectionsView.as_view(),
        name="host_detections",
    ),
    path("schedules/", views.ScheduleListView.as_view(), name="schedule_list"),
    path("schedules/new/", views.ScheduleCreateView.as_view(), name="schedule_create"),
    path("schedules/<int:pk>/", views.ScheduleDetailView.as_view(), name="schedule_detail"),
    path("schedules/<int:pk>/edit/", views.ScheduleUpdateView.as_view(), name="schedule_update"),
    path("schedules/<int:pk>/delete/", views.ScheduleDeleteView.as_view(), name="schedule_delete"),
    path("option-profiles/", views.OptionProfileListView.as_view(), name="option_profile_list"),
    path(
        "option-profiles/new/",
        views.OptionProfileCreateView.as_view(),
        name="option_profile_create",
    ),
    path(
        "option-profiles/<int:pk>/",
        views.OptionProfileUpdateView.as_view(),
        name="option_profile_update",
    ),
    path("imports/", views.ImportListView.as_view(), name="import_list"),
    path("imports/new/", views.ImportCreateView.as_view(), name="import_create"),
    path("imports/<int:pk>/", views.ImportDetailView.as_view(), name="import_detail"),
    path("feeds/", views.FeedListView.as_view(), name="feed_list"),
    path("feeds/new/", views.FeedCreateView.as_view(), name="feed_create"),
    path("feeds/<int:pk>/", views.FeedDetailView.as_view(), name="feed_detail"),
    path("kb/", views.KnowledgeBaseListView.as_view(), name="kb_list"),
    path("kb/<int:qid>/", views.KnowledgeBaseDetailView.as_view(), name="kb_detail"),
]
