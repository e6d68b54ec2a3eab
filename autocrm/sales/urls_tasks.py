"""Pages of tasks and execution control (``sales:`` namespace, included by ``sales.urls``)."""

from django.urls import path

from autocrm.sales import views_tasks

urlpatterns = [
    path("tasks/<int:pk>/", views_tasks.task_detail, name="task_detail"),
]
