"""Task pages: my tasks, the calendar, the task card and its actions, the new-task form
and the task panel of the deal and client cards, with scoping by dealer center."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.sales.models import Task, TaskComment, TaskPriority, TaskStatus, TaskStatusChange
from autocrm.sales.services import task_create
from autocrm.sales.tests.factories import default_pipelines, make_deal, make_task

pytestmark = pytest.mark.django_db

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world() -> dict[str, Any]:
    dc_a = DealerCenterFactory.create(name="A")
    dc_b = DealerCenterFactory.create(name="B")
    manager_a = UserFactory.create(
        username="manager_a", roles=["sales_manager"], dealer_centers=[dc_a]
    )
    colleague_a = UserFactory.create(
        username="colleague_a", roles=["sales_manager"], dealer_centers=[dc_a]
    )
    manager_b = UserFactory.create(
        username="manager_b", roles=["sales_manager"], dealer_centers=[dc_b]
    )
    head_a = UserFactory.create(username="head_a", roles=["head"], dealer_centers=[dc_a])
    pipelines = default_pipelines()
    client_a = ClientFactory.create(dealer_center=dc_a)
    deal_a = make_deal(
        pipeline=pipelines["new_car"], dealer_center=dc_a, client=client_a, responsible=manager_a
    )
    return {
        "dc_a": dc_a,
        "dc_b": dc_b,
        "manager_a": manager_a,
        "colleague_a": colleague_a,
        "manager_b": manager_b,
        "head_a": head_a,
        "client_a": client_a,
        "deal_a": deal_a,
    }


def _task(world: dict[str, Any], title: str, **fields: Any) -> Task:
    fields.setdefault("assignee", world["manager_a"])
    fields.setdefault("dealer_center", world["dc_a"])
    fields.setdefault("created_by", world["manager_a"])
    return make_task(title=title, **fields)


def _create(world: dict[str, Any], title: str) -> Task:
    return task_create(
        actor=world["manager_a"],
        title=title,
        assignee=world["manager_a"],
        dealer_center_id=world["dc_a"].pk,
    )


def _section(html: str, element_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{element_id}".*?</section>', html, re.S)
    assert match, element_id
    return match.group(0)


def _ids(fragment: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-task="(\d+)"', fragment)]


# --------------------------------------------------------------------------- my tasks


def _group_world(world: dict[str, Any]) -> dict[str, Task]:
    now = timezone.now()
    end_of_today = datetime.combine(
        timezone.localdate(now, MOSCOW) + timedelta(days=1), datetime.min.time(), tzinfo=MOSCOW
    )
    later_today = now + min(timedelta(minutes=30), (end_of_today - now) / 2)
    return {
        "overdue_old": _task(world, "Overdue 2 days", due_at=now - timedelta(days=2)),
        "overdue": _task(world, "Overdue 1 minute", due_at=now - timedelta(minutes=1)),
        "today": _task(
            world,
            "Later today",
            due_at=later_today,
            deal=world["deal_a"],
            client=world["client_a"],
        ),
        "upcoming": _task(world, "In 3 days", due_at=now + timedelta(days=3)),
        "tomorrow": _task(world, "Tomorrow", due_at=end_of_today + timedelta(hours=10)),
        "no_deadline": _task(world, "Some day"),
        "done": _task(
            world,
            "Done yesterday",
            due_at=now - timedelta(days=1),
            status=TaskStatus.DONE,
            completed_at=now - timedelta(days=1),
            result="Called",
        ),
        "done_long_ago": _task(
            world,
            "Done long ago",
            status=TaskStatus.DONE,
            completed_at=now - timedelta(days=30),
        ),
        "cancelled": _task(world, "Cancelled", due_at=later_today, status=TaskStatus.CANCELLED),
        "colleague": _task(world, "Colleague's", due_at=later_today, assignee=world["colleague_a"]),
    }


def test_my_tasks_groups_overdue_today_upcoming(client: Any, world: dict[str, Any]) -> None:
    tasks = _group_world(world)
    client.force_login(world["manager_a"])
    response = client.get("/sales/tasks/")
    assert response.status_code == 200
    html = response.content.decode()
    expect = {
        "tasks-overdue": ["overdue_old", "overdue"],
        "tasks-today": ["today"],
        "tasks-upcoming": ["tomorrow", "upcoming", "no_deadline"],
    }
    for section, names in expect.items():
        assert _ids(_section(html, section)) == [tasks[name].pk for name in names], section
    assert 'id="tasks-done"' not in html
    # The task of a deal links to the deal and to its client.
    assert f'href="/sales/deals/{world["deal_a"].pk}/"' in html
    assert f'href="/clients/{world["client_a"].pk}/"' in html


def test_done_recently_toggle(client: Any, world: dict[str, Any]) -> None:
    tasks = _group_world(world)
    client.force_login(world["manager_a"])
    html = client.get("/sales/tasks/?done=1").content.decode()
    assert _ids(_section(html, "tasks-done")) == [tasks["done"].pk]


def test_head_picks_an_employee_of_his_dealer_center(client: Any, world: dict[str, Any]) -> None:
    tasks = _group_world(world)
    client.force_login(world["head_a"])
    html = client.get(f"/sales/tasks/?user={world['colleague_a'].pk}").content.decode()
    assert _ids(_section(html, "tasks-today")) == [tasks["colleague"].pk]
    assert _ids(_section(html, "tasks-overdue")) == []
    assert 'id="employee-select"' in html
    # An employee of another dealer center is not his to watch.
    assert client.get(f"/sales/tasks/?user={world['manager_b'].pk}").status_code == 404
    assert client.get("/sales/tasks/?user=abc").status_code == 404


def test_a_manager_cannot_look_at_colleagues_tasks(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["manager_a"])
    assert client.get(f"/sales/tasks/?user={world['colleague_a'].pk}").status_code == 403
    assert client.get(f"/sales/tasks/?user={world['manager_a'].pk}").status_code == 200


def test_quick_complete_from_the_list_with_htmx(client: Any, world: dict[str, Any]) -> None:
    task = _task(world, "Call", due_at=timezone.now() + timedelta(hours=1))
    client.force_login(world["manager_a"])
    response = client.post(
        f"/sales/tasks/{task.pk}/complete/", {"result": "Agreed on a test drive"}, **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "taskChanged"
    assert f'id="task-{task.pk}"' in response.content.decode()
    assert 'data-status="done"' in response.content.decode()
    task.refresh_from_db()
    assert (task.status, task.result, task.completed_by) == (
        TaskStatus.DONE,
        "Agreed on a test drive",
        world["manager_a"],
    )


# --------------------------------------------------------------------------- calendar


def test_calendar_shows_the_month_by_local_due_day(client: Any, world: dict[str, Any]) -> None:
    nov_5 = _task(world, "Nov 5", due_at=datetime(2026, 11, 5, 10, 0, tzinfo=MOSCOW))
    # 23:30 in Moscow is still 30 November there (20:30 UTC).
    nov_30 = _task(world, "Nov 30 late", due_at=datetime(2026, 11, 30, 23, 30, tzinfo=MOSCOW))
    dec_1 = _task(world, "Dec 1", due_at=datetime(2026, 12, 1, 0, 30, tzinfo=MOSCOW))
    done = _task(
        world,
        "Done",
        due_at=datetime(2026, 11, 10, 9, 0, tzinfo=MOSCOW),
        status=TaskStatus.DONE,
    )
    _task(world, "Far", due_at=datetime(2026, 12, 20, 9, 0, tzinfo=MOSCOW))
    _task(
        world,
        "Cancelled",
        due_at=datetime(2026, 11, 6, 9, 0, tzinfo=MOSCOW),
        status=TaskStatus.CANCELLED,
    )
    _task(
        world,
        "Colleague",
        due_at=datetime(2026, 11, 6, 9, 0, tzinfo=MOSCOW),
        assignee=world["colleague_a"],
    )
    client.force_login(world["manager_a"])
    response = client.get("/sales/tasks/calendar/?month=2026-11")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-month="2026-11"' in html
    grid = re.search(r'<table[^>]*id="calendar-grid".*?</table>', html, re.S)
    assert grid
    cells = dict(re.findall(r'data-day="([\d-]+)">(.*?)</td>', grid.group(0), re.S))
    # November 2026 starts on a Sunday: the grid runs Monday 26 October – Sunday 6 December.
    assert min(cells) == "2026-10-26"
    assert max(cells) == "2026-12-06"
    with_tasks = {day: _ids(cell) for day, cell in cells.items() if _ids(cell)}
    assert with_tasks == {
        "2026-11-05": [nov_5.pk],
        "2026-11-10": [done.pk],
        "2026-11-30": [nov_30.pk],
        "2026-12-01": [dec_1.pk],
    }
    assert "month=2026-10" in html
    assert "month=2026-12" in html


@pytest.mark.parametrize("month", ["2026-13", "abc", "99999-01", "0000-01", "2026-1-1"])
def test_a_bad_month_falls_back_to_this_month_with_400(
    client: Any, world: dict[str, Any], month: str
) -> None:
    client.force_login(world["manager_a"])
    response = client.get(f"/sales/tasks/calendar/?month={month}")
    assert response.status_code == 400
    this_month = timezone.localdate(timezone.now(), MOSCOW).strftime("%Y-%m")
    assert f'data-month="{this_month}"' in response.content.decode()
    assert 'id="calendar-error"' in response.content.decode()


# --------------------------------------------------------------------------- task card


def test_card_shows_links_and_history(client: Any, world: dict[str, Any]) -> None:
    task = task_create(
        actor=world["manager_a"],
        title="Prepare the offer",
        assignee=world["manager_a"],
        deal=world["deal_a"],
        due_at=datetime(2026, 11, 26, 17, 50, tzinfo=MOSCOW),
    )
    client.force_login(world["manager_a"])
    html = client.get(f"/sales/tasks/{task.pk}/").content.decode()
    assert 'id="task-due">26.11.2026 17:50<' in html
    assert f'href="/sales/deals/{world["deal_a"].pk}/"' in html
    assert f'href="/clients/{world["client_a"].pk}/"' in html
    assert 'data-history="-open"' in html


def test_complete_with_result_writes_history(client: Any, world: dict[str, Any]) -> None:
    task = _create(world, "Call")
    client.force_login(world["manager_a"])
    response = client.post(f"/sales/tasks/{task.pk}/complete/", {"result": "Done: called"})
    assert response.status_code == 302
    assert response["Location"] == f"/sales/tasks/{task.pk}/"
    task.refresh_from_db()
    assert (task.status, task.result) == (TaskStatus.DONE, "Done: called")
    assert list(
        TaskStatusChange.objects.filter(task=task).values_list("from_status", "to_status", "note")
    ) == [("", "open", ""), ("open", "done", "Done: called")]
    # Reopen, then cancel: each a history row.
    client.post(f"/sales/tasks/{task.pk}/reopen/", {"note": "Not really"})
    client.post(f"/sales/tasks/{task.pk}/cancel/", {"note": "Client gone"})
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    assert list(TaskStatusChange.objects.filter(task=task).values_list("to_status", flat=True)) == [
        "open",
        "done",
        "open",
        "cancelled",
    ]
    html = client.get(f"/sales/tasks/{task.pk}/").content.decode()
    assert html.count("data-history=") == 4


def test_a_stranger_gets_404_and_nothing_changes(client: Any, world: dict[str, Any]) -> None:
    task = _create(world, "Call")
    _create(world, "Other")
    client.force_login(world["manager_b"])
    assert client.get(f"/sales/tasks/{task.pk}/").status_code == 404
    for action in ("complete", "cancel", "comments", "edit"):
        response = client.post(
            f"/sales/tasks/{task.pk}/{action}/", {"result": "x", "text": "x", "title": "x"}
        )
        assert response.status_code == 404, action
    task.refresh_from_db()
    assert (task.status, task.title, task.result) == (TaskStatus.OPEN, "Call", "")
    assert TaskComment.objects.count() == 0
    assert TaskStatusChange.objects.filter(task=task).count() == 1


def test_refused_transitions_answer_4xx_to_htmx(client: Any, world: dict[str, Any]) -> None:
    task = _create(world, "Call")
    # A colleague of the same dealer center sees the task but is neither assignee nor author.
    client.force_login(world["colleague_a"])
    response = client.post(f"/sales/tasks/{task.pk}/complete/", {"result": "x"}, **HTMX)
    assert response.status_code == 403
    response = client.post(f"/sales/tasks/{task.pk}/complete/", {"result": "x"})
    assert response.status_code == 302  # without htmx: back to the card with a message
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN
    client.force_login(world["manager_a"])
    # Reopening an open task is not a transition of the map.
    response = client.post(f"/sales/tasks/{task.pk}/reopen/", **HTMX)
    assert response.status_code == 409
    assert TaskStatusChange.objects.filter(task=task).count() == 1


def test_comments_are_added_with_htmx(client: Any, world: dict[str, Any]) -> None:
    task = _create(world, "Call")
    client.force_login(world["colleague_a"])
    response = client.post(f"/sales/tasks/{task.pk}/comments/", {"text": "Client asks"}, **HTMX)
    assert response.status_code == 200
    assert 'id="task-comments"' in response.content.decode()
    assert "Client asks" in response.content.decode()
    assert list(task.comments.values_list("text", "author")) == [
        ("Client asks", world["colleague_a"].pk)
    ]
    response = client.post(f"/sales/tasks/{task.pk}/comments/", {"text": "  "})
    assert response.status_code == 400
    assert task.comments.count() == 1


def test_edit_changes_fields_through_the_service(client: Any, world: dict[str, Any]) -> None:
    task = _create(world, "Call")
    client.force_login(world["manager_a"])
    assert client.get(f"/sales/tasks/{task.pk}/edit/").status_code == 200
    response = client.post(
        f"/sales/tasks/{task.pk}/edit/",
        {
            "title": "Call back",
            "description": "About the credit",
            "assignee": world["colleague_a"].pk,
            "due_date": "2026-11-27",
            "due_time": "09:20",
            "priority": TaskPriority.HIGH,
        },
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.description, task.assignee, task.priority) == (
        "Call back",
        "About the credit",
        world["colleague_a"],
        TaskPriority.HIGH,
    )
    assert task.due_at == datetime(2026, 11, 27, 9, 20, tzinfo=MOSCOW)
    # An employee of another dealer center is not a choice.
    response = client.post(
        f"/sales/tasks/{task.pk}/edit/",
        {"title": "X", "assignee": world["manager_b"].pk, "priority": TaskPriority.LOW},
    )
    assert response.status_code == 400
    task.refresh_from_db()
    assert (task.title, task.assignee) == ("Call back", world["colleague_a"])


# --------------------------------------------------------------------------- new task


def test_new_task_from_a_deal_card_with_htmx(client: Any, world: dict[str, Any]) -> None:
    deal = world["deal_a"]
    client.force_login(world["manager_a"])
    form = client.get(f"/sales/tasks/new/?deal={deal.pk}", **HTMX)
    assert form.status_code == 200
    assert "<html" not in form.content.decode()
    response = client.post(
        f"/sales/tasks/new/?deal={deal.pk}",
        {
            "title": "Send the price list",
            "assignee": world["colleague_a"].pk,
            "due_date": "2026-11-27",
            "due_time": "10:00",
            "priority": TaskPriority.NORMAL,
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "taskChanged"
    task = Task.objects.get(title="Send the price list")
    assert (task.deal, task.client, task.dealer_center, task.assignee, task.created_by) == (
        deal,
        world["client_a"],
        world["dc_a"],
        world["colleague_a"],
        world["manager_a"],
    )
    assert task.due_at == datetime(2026, 11, 27, 10, 0, tzinfo=MOSCOW)


def test_new_task_without_htmx_redirects_to_the_card(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["manager_a"])
    response = client.post(
        f"/sales/tasks/new/?client={world['client_a'].pk}",
        {"title": "Congratulate", "priority": TaskPriority.LOW},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/clients/{world['client_a'].pk}/"
    task = Task.objects.get(title="Congratulate")
    assert (task.client, task.deal, task.dealer_center, task.due_at) == (
        world["client_a"],
        None,
        world["dc_a"],
        None,
    )
    response = client.post("/sales/tasks/new/", {"title": "", "priority": TaskPriority.LOW})
    assert response.status_code == 400
    assert Task.objects.count() == 1
    # A task about nothing in particular belongs to the dealer center chosen in the form.
    response = client.post(
        "/sales/tasks/new/",
        {"title": "Team meeting", "priority": TaskPriority.LOW, "dealer_center": world["dc_a"].pk},
    )
    assert response.status_code == 302
    task = Task.objects.get(title="Team meeting")
    assert (task.dealer_center, task.assignee) == (world["dc_a"], None)
    assert response["Location"] == f"/sales/tasks/{task.pk}/"
    # ... among those the user sees.
    client.force_login(world["manager_b"])
    response = client.post(
        "/sales/tasks/new/",
        {"title": "Sneaky", "priority": TaskPriority.LOW, "dealer_center": world["dc_a"].pk},
    )
    assert response.status_code == 400
    assert not Task.objects.filter(title="Sneaky").exists()


def test_new_task_for_a_deal_out_of_scope_is_404(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["manager_b"])
    for query in (f"deal={world['deal_a'].pk}", f"client={world['client_a'].pk}", "deal=x"):
        assert client.get(f"/sales/tasks/new/?{query}").status_code == 404
        assert client.post(f"/sales/tasks/new/?{query}", {"title": "Steal"}).status_code == 404
    assert not Task.objects.exists()


# --------------------------------------------------------------------------- task panel


def test_deal_panel_lists_open_overdue_and_recently_done(
    client: Any, world: dict[str, Any]
) -> None:
    deal = world["deal_a"]
    now = timezone.now()
    late = _task(world, "Late", deal=deal, client=deal.client, due_at=now - timedelta(hours=1))
    soon = _task(world, "Soon", deal=deal, client=deal.client, due_at=now + timedelta(hours=1))
    done = _task(
        world, "Done", deal=deal, client=deal.client, status=TaskStatus.DONE, completed_at=now
    )
    _task(world, "Of the client only", client=deal.client, due_at=now + timedelta(hours=2))
    _task(world, "Another deal's", due_at=now)
    client.force_login(world["manager_a"])
    response = client.get(f"/sales/tasks/panel/?deal={deal.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    open_part = re.search(r"data-open-tasks>(.*?)</ul>", html, re.S)
    assert open_part
    assert _ids(open_part.group(1)) == [late.pk, soon.pk]
    assert f'data-task="{late.pk}" data-overdue="1"' in html
    assert f'data-task="{soon.pk}" data-overdue="0"' in html
    done_part = re.search(r"data-done-tasks>(.*?)</div>\s*</div>\s*$", html, re.S)
    assert done_part
    assert _ids(done_part.group(1)) == [done.pk]
    assert 'hx-trigger="taskChanged from:body, rulesSettled from:body"' in html
    # The client's panel holds his deal's tasks and his own.
    html = client.get(f"/sales/tasks/panel/?client={deal.client.pk}").content.decode()
    open_part = re.search(r"data-open-tasks>(.*?)</ul>", html, re.S)
    assert open_part
    assert len(_ids(open_part.group(1))) == 3


def test_panel_is_scoped(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["manager_b"])
    assert client.get(f"/sales/tasks/panel/?deal={world['deal_a'].pk}").status_code == 404
    assert client.get(f"/sales/tasks/panel/?client={world['client_a'].pk}").status_code == 404
    response = client.post(f"/sales/tasks/panel/?deal={world['deal_a'].pk}", {"title": "Steal"})
    assert response.status_code == 404
    assert client.get("/sales/tasks/panel/?deal=abc").status_code == 404
    assert client.get("/sales/tasks/panel/").status_code == 400
    assert not Task.objects.exists()


def test_panel_quick_add_with_htmx(client: Any, world: dict[str, Any]) -> None:
    deal = world["deal_a"]
    client.force_login(world["head_a"])
    response = client.post(
        f"/sales/tasks/panel/?deal={deal.pk}",
        {"title": "Invite to a test drive", "due_date": "2026-11-28", "due_time": "11:00"},
        **HTMX,
    )
    assert response.status_code == 204
    assert response["HX-Trigger"] == "taskChanged"
    task = Task.objects.get()
    assert (task.title, task.deal, task.assignee, task.created_by, task.due_at) == (
        "Invite to a test drive",
        deal,
        world["manager_a"],  # the deal's responsible
        world["head_a"],
        datetime(2026, 11, 28, 11, 0, tzinfo=MOSCOW),
    )
    # Without a title: the panel comes back with the error, nothing is created.
    response = client.post(f"/sales/tasks/panel/?deal={deal.pk}", {"title": ""}, **HTMX)
    assert response.status_code == 200
    assert "invalid-feedback" in response.content.decode()
    assert Task.objects.count() == 1
