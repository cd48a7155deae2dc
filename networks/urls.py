from django.urls import path

from . import views

app_name = "networks"

urlpatterns = [
    path("", views.NetworkListView.as_view(), name="network_list"),
    path("new/", views.NetworkCreateView.as_view(), name="network_create"),
    path("<int:pk>/", views.NetworkDetailView.as_view(), name="network_detail"),
    path("<int:pk>/edit/", views.NetworkUpdateView.as_view(), name="network_update"),
    path("<int:pk>/delete/", views.NetworkDeleteView.as_view(), name="network_delete"),
    path("appliances/", views.ApplianceListView.as_view(), name="appliance_list"),
    path("appliances/new/", views.ApplianceCreateView.as_view(), name="appliance_create"),
    path("appliances/<int:pk>/", views.ApplianceDetailView.as_view(), name="appliance_detail"),
    path("appliances/<int:pk>/edit/", views.ApplianceUpdateView.as_view(), name="appliance_update"),
    path("access/<int:pk>/", views.UserAccessView.as_view(), name="user_access"),
    path(
        "appliances/<int:pk>/delete/", views.ApplianceDeleteView.as_view(), name="appliance_delete"
    ),
]
