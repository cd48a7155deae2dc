from django.urls import path

from . import connector_views, views

app_name = "assets"

urlpatterns = [
    path("hosts/", views.HostAssetsView.as_view(), name="host_list"),
    path("hosts/<int:pk>/", views.HostDetailView.as_view(), name="host_detail"),
    path("hosts/tags/", views.HostTagView.as_view(), name="host_tags"),
    path("networks/<int:pk>/hosts/", views.NetworkHostsView.as_view(), name="network_hosts"),
    path("groups/", views.AssetGroupListView.as_view(), name="asset_group_list"),
    path("groups/new/", views.AssetGroupCreateView.as_view(), name="asset_group_create"),
    path("groups/<int:pk>/", views.AssetGroupDetailView.as_view(), name="asset_group_detail"),
    path("groups/<int:pk>/edit/", views.AssetGroupUpdateView.as_view(), name="asset_group_update"),
    path(
        "groups/<int:pk>/delete/", views.AssetGroupDeleteView.as_view(), name="asset_group_delete"
    ),
    path("tags/", views.TagListView.as_view(), name="tag_list"),
    path("tags/new/", views.TagCreateView.as_view(), name="tag_create"),
    path("tags/<int:pk>/edit/", views.TagUpdateView.as_view(), name="tag_update"),
    path("tags/<int:pk>/delete/", views.TagDeleteView.as_view(), name="tag_delete"),
    path("overlaps/", views.OverlapListView.as_view(), name="overlap_list"),
    path("overlaps/recount/", views.OverlapRefreshView.as_view(), name="overlap_refresh"),
    path("connectors/", connector_views.ConnectorListView.as_view(), name="connector_list"),
    path("connectors/new/", connector_views.ConnectorCreateView.as_view(), name="connector_create"),
    path(
        "connectors/<int:pk>/",
        connector_views.ConnectorDetailView.as_view(),
        name="connector_detail",
    ),
    path(
        "connectors/<int:pk>/edit/",
        connector_views.ConnectorUpdateView.as_view(),
        name="connector_update",
    ),
    path(
        "connectors/<int:pk>/run/", connector_views.ConnectorRunView.as_view(), name="connector_run"
    ),
    path(
        "connectors/<int:pk>/delete/",
        connector_views.ConnectorDeleteView.as_view(),
        name="connector_delete",
    ),
]
