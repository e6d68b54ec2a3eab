from django.urls import include, path

from autocrm.inventory import views

app_name = "inventory"

urlpatterns = [
    path("", views.stock_search, name="search"),
    path("export.xlsx", views.stock_export, name="export"),
    path("presets/", views.preset_save, name="preset_save"),
    path("presets/<int:pk>/delete/", views.preset_delete, name="preset_delete"),
    path("<int:pk>/", views.vehicle_detail, name="detail"),
    path("<int:pk>/pts/", views.vehicle_pts, name="pts"),
    path("<int:pk>/reserve/", views.vehicle_reserve, name="reserve"),
    path("<int:pk>/release/", views.vehicle_release, name="release"),
    path("<int:pk>/logistics-status/", views.vehicle_logistics_change, name="logistics"),
    path("import/", include("autocrm.inventory.import_urls")),
]
