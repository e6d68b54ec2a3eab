"""/communications/notifications/preferences/: per-kind choices saved and honoured by
``notification_create``; the bell's dropdown of the latest notices."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail

from autocrm.accounts.tests.factories import UserFactory
from autocrm.communications.models import Notification, NotificationKind, NotificationPreference
from autocrm.communications.services import notification_create

pytestmark = pytest.mark.django_db

URL = "/communications/notifications/preferences/"


def _checked(html: str) -> set[str]:
    return set(re.findall(r'<input[^>]*name="([\w-]+)"[^>]*\schecked>', html))


def test_page_shows_the_defaults_for_every_kind(client: Any) -> None:
    user = UserFactory.create(roles=["sales_manager"])
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r'data-kind="(\w+)"', html) == NotificationKind.values
    # In the app always; by e-mail for visits, escalations and overdue tasks.
    assert _checked(html) == {f"{kind}-in_app" for kind in NotificationKind.values} | {
        "visit-email",
        "escalation-email",
        "task_overdue-email",
    }
    # The notifications page links here.
    assert URL in client.get("/communications/notifications/").content.decode()


def test_saved_choices_are_shown_and_honoured(
    client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user = UserFactory.create(roles=["sales_manager"], email="manager@example.com")
    client.force_login(user)
    # Task assignments: by e-mail only. Visits and other notices: in the app only.
    # Every other kind: nothing at all.
    response = client.post(
        URL, {"task_assigned-email": "on", "visit-in_app": "on", "general-in_app": "on"}
    )
    assert response.status_code == 302
    assert response["Location"] == URL
    saved = {
        row.kind: (row.in_app, row.email)
        for row in NotificationPreference.objects.filter(user=user)
    }
    assert saved == {
        kind: (kind in ("visit", "general"), kind == "task_assigned")
        for kind in NotificationKind.values
    }
    assert _checked(client.get(URL).content.decode()) == {
        "task_assigned-email",
        "visit-in_app",
        "general-in_app",
    }

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assigned = notification_create(
            user=user, kind=NotificationKind.TASK_ASSIGNED, text="New task: call"
        )
        visit = notification_create(user=user, kind=NotificationKind.VISIT, text="Visitor")
        overdue = notification_create(user=user, kind=NotificationKind.TASK_OVERDUE, text="Late")
    # In the app: only the visit (task assignments and overdue tasks are off there).
    assert assigned is None
    assert overdue is None
    assert visit is not None
    assert list(Notification.objects.filter(user=user).values_list("kind", flat=True)) == ["visit"]
    # By e-mail: only the task assignment (visits and overdue tasks are off by e-mail).
    assert [(message.to, message.subject) for message in mail.outbox] == [
        (["manager@example.com"], "New task: call")
    ]


def test_another_users_choices_are_untouched(client: Any) -> None:
    user = UserFactory.create(roles=["sales_manager"])
    other = UserFactory.create(roles=["sales_manager"])
    client.force_login(user)
    client.post(URL, {})
    assert NotificationPreference.objects.filter(user=user, in_app=False).count() == len(
        NotificationKind.values
    )
    assert not NotificationPreference.objects.filter(user=other).exists()


def test_the_page_needs_a_login(client: Any) -> None:
    assert client.get(URL).status_code == 302
    assert client.post(URL, {"visit-in_app": "on"}).status_code == 302
    assert not NotificationPreference.objects.exists()


def test_bell_lists_the_latest_five(client: Any) -> None:
    user = UserFactory.create(roles=["sales_manager"])
    for number in range(7):
        notification_create(user=user, text=f"Notice {number}", url=f"/clients/{number}/")
    client.force_login(user)
    html = client.get("/communications/notifications/bell/").content.decode()
    assert 'id="notification-count">7<' in html
    shown = [int(pk) for pk in re.findall(r'data-notification="(\d+)"', html)]
    newest = list(
        Notification.objects.filter(user=user)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)[:5]
    )
    assert shown == newest
    assert URL in html
