"""The sales funnel in a real browser (issue 5).

- A manager drags a deal to "Test drive" on the board; the automation rule of that stage
  creates a task, which appears in the task panel of the deal card.
- A move the transition map refuses (no vehicle of interest) puts the card back in its
  column and shows why; a drop on "Lost" asks for the loss reason first.

The live server runs no background worker: the test thread plays the automation worker
with ``events_process_pending`` after the move has committed. Labels are checked through
ids and data attributes, so the tests do not depend on the state of the translation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.inventory.tests.factories import VehicleFactory
from autocrm.sales.automation import events_process_pending
from autocrm.sales.models import Deal, DealStageChange, LossReason, Task
from autocrm.sales.tests.factories import default_pipelines, make_deal, make_rule, stage
from e2e.conftest import TABLET

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TASK_TITLE = "Prepare the test drive"


def drag(page: Page, card: Locator, target: Locator) -> None:
    """Drag with real pointer events in small steps, as SortableJS expects of a hand.
    Both ends must be on the screen (see ``show_column``)."""
    source, box = card.bounding_box(), target.bounding_box()
    assert source is not None
    assert box is not None
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 15, steps=20)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 10, steps=5)
    page.mouse.up()


def show_column(page: Page, code: str) -> None:
    """Scroll the board sideways so that the column ``code`` is the first one shown."""
    page.locator(f"#column-{code}").evaluate(
        "(el) => el.scrollIntoView({inline: 'start', block: 'nearest'})"
    )


def run_automation_until(found: Callable[[], bool], timeout: float = 10.0) -> None:
    """What the automation worker would do: process stored occurrences until ``found``."""
    deadline = time.monotonic() + timeout
    while not found():
        assert time.monotonic() < deadline, "the automation did not produce the task"
        events_process_pending(older_than=timedelta(0))
        time.sleep(0.2)


@pytest.fixture
def funnel() -> dict[str, Any]:
    pipelines = default_pipelines()
    new_car = pipelines["new_car"]
    showroom = DealerCenterFactory.create(name="CHERY Центр Мурманск")
    manager = UserFactory.create(
        username="manager",
        first_name="Мария",
        last_name="Продажина",
        roles=["sales_manager"],
        dealer_centers=[showroom],
    )
    vehicle = VehicleFactory.create(site__dealer_center=showroom)
    deal = make_deal(
        pipeline=new_car,
        dealer_center=showroom,
        stage_code="needs",
        responsible=manager,
        client=ClientFactory.create(
            last_name="Смирнова", first_name="Анна", dealer_center=showroom
        ),
        title="Tiggo 7 Pro Max",
        vehicles=[vehicle],
    )
    make_rule(
        trigger="stage_entered",
        stage=stage(new_car, "test_drive"),
        actions=[
            {
                "kind": "create_task",
                "task_title": TASK_TITLE,
                "due_minutes": 1440,
                "due_in_working_time": False,
            }
        ],
    )
    return {"new_car": new_car, "showroom": showroom, "manager": manager, "deal": deal}


def test_dragging_a_deal_to_test_drive_creates_the_task_shown_on_the_deal_card(
    live_server: Any, page: Page, login: Callable[[Page, str], None], funnel: dict[str, Any]
) -> None:
    deal: Deal = funnel["deal"]
    login(page, "manager")
    page.goto(f"{live_server.url}/sales/deals/board/")
    expect(page).to_have_url(f"{live_server.url}/sales/deals/board/new_car/")
    card = page.locator(f"#column-needs #deal-{deal.pk}")
    expect(card).to_contain_text("Смирнова Анна")
    expect(page.locator("#column-needs [data-column-count]")).to_have_text("1")

    drag(page, card, page.locator("#column-test_drive [data-board-list]"))

    moved = page.locator(f"#column-test_drive #deal-{deal.pk}")
    expect(moved).to_have_attribute("data-version", "2")
    expect(page.locator("#column-test_drive [data-column-count]")).to_have_text("1")
    expect(page.locator("#column-needs [data-column-count]")).to_have_text("0")
    expect(page.locator("#board-message")).to_be_hidden()
    deal.refresh_from_db()
    assert deal.stage.code == "test_drive"
    change = DealStageChange.objects.get(deal=deal)
    assert (change.from_stage_id, change.to_stage.code, change.changed_by_id) == (
        stage(funnel["new_car"], "needs").pk,
        "test_drive",
        funnel["manager"].pk,
    )

    run_automation_until(lambda: Task.objects.filter(deal=deal, title=TASK_TITLE).exists())
    task = Task.objects.get(deal=deal)
    assert task.assignee_id == funnel["manager"].pk

    with page.expect_navigation():
        moved.locator("a.deal-card-link").click()
    expect(page.locator("#deal-stage")).to_have_attribute("data-stage", "test_drive")
    expect(page.locator("#deal-history [data-history-to=test_drive]")).to_have_count(1)
    expect(page.locator("#deal-tasks")).to_contain_text(TASK_TITLE)


def test_at_tablet_width_a_refused_move_puts_the_card_back_and_says_why(
    live_server: Any,
    new_context: Callable[..., Any],
    login: Callable[[Page, str], None],
    funnel: dict[str, Any],
) -> None:
    no_vehicle = make_deal(
        pipeline=funnel["new_car"],
        dealer_center=funnel["showroom"],
        stage_code="needs",
        responsible=funnel["manager"],
        title="Без машины",
    )
    page = new_context(viewport=TABLET).new_page()
    login(page, "manager")
    page.goto(f"{live_server.url}/sales/deals/board/new_car/")
    # At tablet width the columns scroll sideways inside the board, not the page.
    board = page.locator("#deal-board")
    assert board.evaluate("(el) => el.scrollWidth > el.clientWidth")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= TABLET["width"]

    show_column(page, "needs")
    drag(
        page,
        page.locator(f"#deal-{no_vehicle.pk}"),
        page.locator("#column-test_drive [data-board-list]"),
    )
    message = page.locator("#board-message")
    expect(message).to_be_visible()
    expect(message).to_have_attribute("data-rule", "vehicle_required")
    expect(page.locator(f"#column-needs #deal-{no_vehicle.pk}")).to_have_count(1)
    expect(page.locator("#column-needs [data-column-count]")).to_have_text("2")
    expect(page.locator("#column-test_drive [data-column-count]")).to_have_text("0")
    no_vehicle.refresh_from_db()
    assert (no_vehicle.stage.code, no_vehicle.version) == ("needs", 1)
    assert DealStageChange.objects.filter(deal=no_vehicle).count() == 0


def test_a_drop_on_lost_asks_for_the_loss_reason(
    live_server: Any,
    new_context: Callable[..., Any],
    login: Callable[[Page, str], None],
    funnel: dict[str, Any],
) -> None:
    # The service pipeline has five stages: all of them fit a wide screen.
    service = default_pipelines()["service"]
    deal = make_deal(
        pipeline=service,
        dealer_center=funnel["showroom"],
        stage_code="booked",
        responsible=funnel["manager"],
        title="ТО-1",
    )
    page = new_context(viewport={"width": 1600, "height": 900}).new_page()
    login(page, "manager")
    page.goto(f"{live_server.url}/sales/deals/board/service/")
    card = page.locator(f"#deal-{deal.pk}")
    lost = page.locator("#column-lost [data-board-list]")
    modal = page.locator("#loss-modal")

    # Closing the question leaves the deal where it was.
    drag(page, card, lost)
    expect(modal).to_be_visible()
    modal.locator(".modal-footer button[data-bs-dismiss=modal]").click()
    expect(modal).to_be_hidden()
    expect(page.locator(f"#column-booked #deal-{deal.pk}")).to_have_count(1)
    deal.refresh_from_db()
    assert (deal.stage.code, deal.version) == ("booked", 1)

    drag(page, page.locator(f"#deal-{deal.pk}"), lost)
    expect(modal).to_be_visible()
    reason = LossReason.objects.order_by("order", "pk")[1]  # "Price too high"
    modal.locator("#loss-reason").select_option(str(reason.pk))
    modal.locator("#loss-comment").fill("Дорого")
    modal.locator("#loss-submit").click()
    expect(page.locator(f"#column-lost #deal-{deal.pk}")).to_have_attribute("data-version", "2")
    expect(page.locator("#column-lost [data-column-count]")).to_have_text("1")
    expect(page.locator("#column-booked [data-column-count]")).to_have_text("0")
    deal.refresh_from_db()
    assert (deal.stage.code, deal.state, deal.loss_reason, deal.loss_comment) == (
        "lost",
        "lost",
        reason,
        "Дорого",
    )
