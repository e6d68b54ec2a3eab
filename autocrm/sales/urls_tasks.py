"""Pages of tasks and execution control (``sales:`` namespace, included by ``sales.urls``)."""

from django.urls import path

from autocrm.sales import views_tasks

urlpatterns = [
    path("tasks/", views_tasks.my_tasks, name="my_tasks"),
    path("tasks/calendar/", views_tasks.task_calendar, name="task_calendar"),
    path("tasks/new/", views_tasks.task_new, name="task_new"),
    path("tasks/panel/", views_tasks.task_panel, name="task_panel"),
    path("tasks/<int:pk>/", views_tasks.task_detail, name="task_detail"),
    path("tasks/<int:pk>/edit/", views_tasks.task_edit, name="task_edit"),
    path("tasks/<int:pk>/complete/", views_tasks.task_complete, name="task_complete"),
    path("tasks/<int:pk>/cancel/", views_tasks.task_cancel, name="task_cancel"),
    path("tasks/<int:pk>/reopen/", views_tasks.task_reopen, name="task_reopen"),
    path("tasks/<int:pk>/comments/", views_tasks.task_comment, name="task_comment"),
    path("control/", views_tasks.control, name="control"),
]
