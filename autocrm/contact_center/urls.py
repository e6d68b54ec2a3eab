from django.urls import path

from autocrm.contact_center import views

app_name = "contact_center"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/rows/", views.inbox_rows, name="inbox_rows"),
    path("conversations/<int:pk>/take/", views.conversation_take, name="take"),
    path("conversations/<int:pk>/assign/", views.conversation_assign, name="assign"),
    path("calls/ringing/", views.ringing_call, name="ringing"),
    path("calls/<int:pk>/open/", views.call_open, name="call_open"),
    path("calls/<int:pk>/dismiss/", views.call_dismiss, name="call_dismiss"),
]
