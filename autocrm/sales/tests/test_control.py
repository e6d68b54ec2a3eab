"""The heads' control view /sales/control/: managers' open and overdue tasks, open and idle
deals; first-response and stage SLAs per dealer center in working hours."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from autocrm.accounts.models import WorkingHours
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import Channel, Conversation, Message
from autocrm.sales.models import (
    Deal,
    DealState,
    Request,
    RequestStatusChange,
    SlaTarget,
    TaskStatus,
)
from autocrm.sales.selectors_control import first_response_targets
from autocrm.sales.tests.factories import default_pipelines, make_deal, make_task, stage

pytestmark = pytest.mark.django_db

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


def _hours_9_18(dealer_center: Any) -> None:
    for weekday in range(7):
        WorkingHours.objects.create(
            dealer_center=dealer_center, weekday=weekday, opens_at=time(9), closes_at=time(18)
        )


def _local(day: Any, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=MOSCOW)


def _request(dealer_center: Any, opened_at: datetime) -> Request:
    return Request.objects.create(
        client=ClientFactory.create(dealer_center=dealer_center),
        source="webform",
        dealer_center=dealer_center,
        opened_at=opened_at,
        last_activity_at=opened_at,
    )


def _outbound(request: Request, at: datetime) -> Message:
    channel = Channel.objects.get_or_create(kind="telegram", name="Bot")[0]
    conversation = Conversation.objects.get_or_create(
        channel=channel, client=request.client, external_thread=f"t-{request.client_id}"
    )[0]
    return Message.objects.create(
        conversation=conversation,
        client=request.client,
        channel=channel,
        direction="out",
        status="sent",
        text="Hello",
        at=at,
    )


def _status_change(request: Request, at: datetime, to: str = "in_progress") -> None:
    RequestStatusChange.objects.create(request=request, from_status="new", to_status=to, at=at)


@pytest.fixture
def world() -> dict[str, Any]:
    now = timezone.now()
    day = timezone.localdate(now, MOSCOW) - timedelta(days=10)
    dc_a = DealerCenterFactory.create(name="A")
    dc_b = DealerCenterFactory.create(name="B")
    dc_c = DealerCenterFactory.create(name="C")
    for dealer_center in (dc_a, dc_b, dc_c):
        _hours_9_18(dealer_center)
    head_a = UserFactory.create(username="head_a", roles=["head"], dealer_centers=[dc_a])
    a1 = UserFactory.create(
        username="a1", last_name="Alpha", roles=["sales_manager"], dealer_centers=[dc_a]
    )
    a2 = UserFactory.create(
        username="a2", last_name="Beta", roles=["sales_manager"], dealer_centers=[dc_a]
    )
    manager_b = UserFactory.create(
        username="manager_b", roles=["sales_manager"], dealer_centers=[dc_b]
    )
    boss = UserFactory.create(username="boss", roles=["management"])

    # Tasks: a1 has three open ones in A (one overdue), a done one, and one in B.
    make_task(assignee=a1, dealer_center=dc_a, due_at=now - timedelta(hours=1))
    make_task(assignee=a1, dealer_center=dc_a, due_at=now + timedelta(hours=1))
    make_task(assignee=a1, dealer_center=dc_a)
    make_task(
        assignee=a1, dealer_center=dc_a, due_at=now - timedelta(days=2), status=TaskStatus.DONE
    )
    make_task(assignee=a1, dealer_center=dc_b, due_at=now - timedelta(days=2))
    make_task(assignee=manager_b, dealer_center=dc_b, due_at=now - timedelta(days=2))

    # Stage SLA: "new" 120 working minutes in A (the group's 9999 is overridden);
    # "contact" 8 hours by the stage itself; "needs" has none.
    pipelines = default_pipelines()
    new_car = pipelines["new_car"]
    contact = stage(new_car, "contact")
    contact.sla_hours = Decimal("8")
    contact.save()
    SlaTarget.objects.create(
        dealer_center=dc_a, kind="stage", stage=stage(new_car, "new"), minutes=120
    )
    SlaTarget.objects.create(
        dealer_center=None, kind="stage", stage=stage(new_car, "new"), minutes=9999
    )

    def deal(
        responsible: Any, code: str, in_stage: timedelta, quiet: timedelta, **extra: Any
    ) -> Deal:
        return make_deal(
            pipeline=new_car,
            dealer_center=extra.pop("dealer_center", dc_a),
            stage_code=code,
            responsible=responsible,
            stage_entered_at=now - in_stage,
            last_activity_at=now - quiet,
            **extra,
        )

    deals = {
        "a1_new_late": deal(a1, "new", timedelta(days=10), timedelta(0)),
        "a1_new_fresh": deal(a1, "new", timedelta(minutes=30), timedelta(0)),
        "a1_won": deal(a1, "won", timedelta(days=30), timedelta(days=30), state=DealState.WON),
        "a2_needs_quiet": deal(a2, "needs", timedelta(days=10), timedelta(days=5)),
        "a2_contact_fresh": deal(a2, "contact", timedelta(hours=2), timedelta(0)),
        "a2_contact_late": deal(a2, "contact", timedelta(days=20), timedelta(days=1)),
        "b": deal(manager_b, "new", timedelta(days=10), timedelta(days=10), dealer_center=dc_b),
    }

    # First response: A's limit is 30 working minutes, the group's 60.
    SlaTarget.objects.create(dealer_center=dc_a, kind="first_response", minutes=30)
    SlaTarget.objects.create(dealer_center=None, kind="first_response", minutes=60)
    evening = _request(dc_a, _local(day, 17, 50))
    _outbound(evening, _local(day + timedelta(days=1), 9, 10))  # 20 working minutes
    _status_change(evening, _local(day + timedelta(days=1), 10, 0))  # later: not the first
    moved = _request(dc_a, _local(day, 10, 0))
    _status_change(moved, _local(day, 11, 0))  # 60 minutes: late
    qualified = _request(dc_a, _local(day, 12, 0))
    made = make_deal(pipeline=new_car, dealer_center=dc_a, request=qualified, state=DealState.LOST)
    Deal.objects.filter(pk=made.pk).update(created_at=_local(day, 12, 5))  # 5 minutes
    unanswered = _request(dc_a, _local(day, 14, 0))  # never answered: late
    answered_late = _request(dc_a, _local(day, 15, 0))
    _outbound(answered_late, _local(day, 14, 30))  # before it opened: not an answer
    _outbound(answered_late, _local(day, 15, 40))  # 40 minutes: late
    _request(dc_a, _local(day - timedelta(days=40), 12, 0))  # outside the last 30 days
    # C has no own limit: the group's 60 minutes. 17:50 → 09:10 is 20 working minutes
    # (920 by the clock).
    night = _request(dc_c, _local(day, 17, 50))
    _outbound(night, _local(day + timedelta(days=1), 9, 10))
    return {
        "now": now,
        "day": day,
        "dc_a": dc_a,
        "dc_b": dc_b,
        "dc_c": dc_c,
        "head_a": head_a,
        "a1": a1,
        "a2": a2,
        "manager_b": manager_b,
        "boss": boss,
        "deals": deals,
        "requests": [evening, moved, qualified, unanswered, answered_late],
    }


def _managers(html: str) -> dict[int, dict[str, int]]:
    rows = re.findall(r'<tr data-manager="(\d+)">(.*?)</tr>', html, re.S)
    result = {}
    for pk, row in rows:
        result[int(pk)] = {
            name: int(value)
            for name, value in re.findall(
                r'data-(open-tasks|overdue-tasks|open-deals|idle-deals)="(\d+)"', row
            )
        }
    return result


def _sla(html: str, dealer_center: Any) -> dict[str, str]:
    match = re.search(
        rf'data-sla-dealer-center="{dealer_center.pk}"(.*?)</table>|'
        rf'data-sla-dealer-center="{dealer_center.pk}"(.*?)</p>\s*</div>',
        html,
        re.S,
    )
    assert match
    block = match.group(1) or match.group(2)
    values = dict(re.findall(r'data-sla-(count|answered|breached|waiting|median)="([^"]*)"', block))
    for stage_pk, opened, breached in re.findall(
        r'data-stage="(\d+)">.*?data-stage-open="(\d+)".*?data-stage-breached="(\d+)"', block, re.S
    ):
        values[f"stage-{stage_pk}"] = f"{opened}/{breached}"
    return values


def test_head_sees_exact_numbers_of_his_dealer_center(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["head_a"])
    response = client.get("/sales/control/")
    assert response.status_code == 200
    html = response.content.decode()
    assert _managers(html) == {
        world["a1"].pk: {"open-tasks": 3, "overdue-tasks": 1, "open-deals": 2, "idle-deals": 1},
        world["a2"].pk: {"open-tasks": 0, "overdue-tasks": 0, "open-deals": 3, "idle-deals": 2},
    }
    # a1 comes first: he has an overdue task.
    assert html.index(f'data-manager="{world["a1"].pk}"') < html.index(
        f'data-manager="{world["a2"].pk}"'
    )
    new_car = world["deals"]["a1_new_late"].pipeline
    assert _sla(html, world["dc_a"]) == {
        "count": "5",
        "answered": "4",
        "breached": "3",  # 60 and 40 minutes against 30, and the unanswered one
        "waiting": "0",
        "median": "30.0",  # of 5, 20, 40 and 60
        f"stage-{stage(new_car, 'new').pk}": "2/1",
        f"stage-{stage(new_car, 'contact').pk}": "2/1",
    }
    assert f'data-sla-dealer-center="{world["dc_b"].pk}"' not in html
    assert f'data-manager="{world["manager_b"].pk}"' not in html
    # The task figures link to the manager's task list.
    assert f'href="/sales/tasks/?user={world["a1"].pk}"' in html


def test_first_response_counts_working_minutes_across_the_night(
    client: Any, world: dict[str, Any]
) -> None:
    client.force_login(world["boss"])
    html = client.get(f"/sales/control/?dealer_center={world['dc_c'].pk}").content.decode()
    assert _sla(html, world["dc_c"]) == {
        "count": "1",
        "answered": "1",
        "breached": "0",
        "waiting": "0",
        "median": "20.0",
    }
    assert f'data-sla-dealer-center="{world["dc_a"].pk}"' not in html


def test_dealer_center_filter_and_idle_days(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["boss"])
    html = client.get(f"/sales/control/?dealer_center={world['dc_b'].pk}").content.decode()
    assert _managers(html) == {
        world["manager_b"].pk: {
            "open-tasks": 1,
            "overdue-tasks": 1,
            "open-deals": 1,
            "idle-deals": 1,
        },
        # a1's task in B counts there.
        world["a1"].pk: {"open-tasks": 1, "overdue-tasks": 1, "open-deals": 0, "idle-deals": 0},
    }
    # With 7 idle days a2's deal quiet for 5 days is no longer idle.
    html = client.get(
        f"/sales/control/?dealer_center={world['dc_a'].pk}&idle_days=7"
    ).content.decode()
    assert _managers(html)[world["a2"].pk]["idle-deals"] == 1
    # A range that leaves the requests out.
    start = (world["day"] + timedelta(days=2)).isoformat()
    html = client.get(
        f"/sales/control/?dealer_center={world['dc_a'].pk}&date_from={start}"
    ).content.decode()
    assert _sla(html, world["dc_a"])["count"] == "0"


def test_bad_filters_answer_400_with_defaults(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["head_a"])
    for query in (
        f"dealer_center={world['dc_b'].pk}",  # not his
        "idle_days=0",
        "date_from=2026-13-01",
        "date_from=2026-11-10&date_to=2026-11-01",
    ):
        response = client.get(f"/sales/control/?{query}")
        assert response.status_code == 400, query
        html = response.content.decode()
        assert _managers(html)[world["a1"].pk]["open-tasks"] == 3
        assert f'data-manager="{world["manager_b"].pk}"' not in html


def test_plain_manager_is_refused(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["a1"])
    assert client.get("/sales/control/").status_code == 403
    client.logout()
    assert client.get("/sales/control/").status_code == 302


def test_first_response_target_falls_back_to_the_group_then_15(world: dict[str, Any]) -> None:
    ids = [world["dc_a"].pk, world["dc_c"].pk]
    assert first_response_targets(ids) == {world["dc_a"].pk: 30, world["dc_c"].pk: 60}
    SlaTarget.objects.filter(dealer_center=None, kind="first_response").delete()
    assert first_response_targets(ids) == {world["dc_a"].pk: 30, world["dc_c"].pk: 15}
