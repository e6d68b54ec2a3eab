from django.urls import path

from autocrm.accounts import views

app_name = "accounts"

urlpatterns = [
    path("dealer-centers/", views.dealer_center_list, name="dealer_center_list"),
    path("dealer-centers/<int:pk>/", views.dealer_center_detail, name="dealer_center_detail"),
    path("staff/", views.user_list, name="user_list"),
    path("switch-dealer-center/", views.switch_dealer_center, name="switch_dealer_center"),
]
