from django.urls import include, path

from autocrm.sales import urls_deals, urls_tasks, views

app_name = "sales"

urlpatterns = [
    path("visits/new/", views.visit_new, name="visit_new"),
    path("visits/lookup/", views.visit_lookup, name="visit_lookup"),
    path("visits/managers/", views.visit_managers, name="visit_managers"),
    path("requests/", views.request_list, name="request_list"),
    path("", include(urls_deals)),
    path("", include(urls_tasks)),
]
