from django.urls import path

from autocrm.communications import views

app_name = "communications"

urlpatterns = [
    path("clients/<int:client_pk>/reply/", views.reply_box, name="reply"),
    path("messages/<int:pk>/status/", views.message_status, name="message_status"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path("clients/<int:client_pk>/call/", views.call_panel, name="call_panel"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/bell/", views.notification_bell, name="notification_bell"),
    path(
        "notifications/preferences/",
        views.notification_preferences,
        name="notification_preferences",
    ),
]
