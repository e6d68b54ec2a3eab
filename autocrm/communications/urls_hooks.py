from django.urls import path

from autocrm.communications.views_hooks import webhook

urlpatterns = [path("<str:kind>/<str:key>/", webhook, name="webhook")]
