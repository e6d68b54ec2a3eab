from django.urls import path

from autocrm.clients import views, views_duplicates

app_name = "clients"

urlpatterns = [
    path("", views.client_list_view, name="list"),
    path("new/", views.client_create_view, name="create"),
    path("duplicates/", views_duplicates.duplicates, name="duplicates"),
    path("<int:pk>/", views.client_detail, name="detail"),
    path("<int:pk>/timeline/", views.client_timeline_part, name="timeline"),
    path("<int:pk>/merge/<int:other_pk>/", views_duplicates.merge, name="merge"),
]
