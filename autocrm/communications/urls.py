from django.urls import path

from autocrm.communications import views

app_name = "communications"

urlpatterns = [
    path("clients/<int:client_pk>/reply/", views.reply_box, name="reply"),
    path("messages/<int:pk>/status/", views.message_status, name="message_status"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
]
