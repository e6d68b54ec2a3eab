"""The hostess registers a walk-in: client by phone (any format), visit, request, the
manager notified in the app and by e-mail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core import mail

from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.models import Client, ClientPhone
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import Notification, Visit, VisitPurpose
from autocrm.core.errors import ValidationFailed
from autocrm.sales.models import Request
from autocrm.sales.visits import visit_register

pytestmark = pytest.mark.django_db

NEW = "/sales/visits/new/"


@pytest.fixture
def world() -> dict[str, Any]:
    dc_a = DealerCenterFactory.create(name="Салон A")
    dc_b = DealerCenterFactory.create(name="Салон B")
    return {
        "dc_a": dc_a,
        "dc_b": dc_b,
        "hostess": UserFactory.create(username="hostess", roles=["hostess"], dealer_centers=[dc_a]),
        "manager": UserFactory.create(
            username="manager",
            roles=["sales_manager"],
            dealer_centers=[dc_a],
            last_name="Продажин",
            first_name="Сергей",
            email="manager@example.com",
        ),
        "manager_b": UserFactory.create(
            username="manager_b", roles=["sales_manager"], dealer_centers=[dc_b]
        ),
        "operator": UserFactory.create(username="operator", roles=["operator"]),
    }


@pytest.mark.parametrize("phone", ["8 (912) 345-67-89", "+7 912 345 67 89", "79123456789"])
def test_a_new_client_by_phone_in_any_format(
    world: dict[str, Any], phone: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        visit = visit_register(
            actor=world["hostess"],
            phone=phone,
            name="Анна Смирнова",
            dealer_center_id=world["dc_a"].pk,
            purpose="test_drive",
            manager_id=world["manager"].pk,
            note="Хочет Tiggo 7",
        )

    person = Client.objects.get()
    assert (person.first_name, person.last_name) == ("Анна", "Смирнова")
    assert list(ClientPhone.objects.values_list("number", flat=True)) == ["+79123456789"]
    assert (visit.client_id, visit.dealer_center_id, visit.purpose) == (
        person.pk,
        world["dc_a"].pk,
        "test_drive",
    )
    assert (visit.manager_id, visit.registered_by_id, visit.note) == (
        world["manager"].pk,
        world["hostess"].pk,
        "Хочет Tiggo 7",
    )
    request = Request.objects.get()
    assert (request.client_id, request.source, request.dealer_center_id) == (
        person.pk,
        "visit",
        world["dc_a"].pk,
    )
    assert (request.topic, request.touches, request.responsible_id) == (
        str(VisitPurpose.TEST_DRIVE.label),
        1,
        world["manager"].pk,
    )
    notice = Notification.objects.get()
    assert notice.user_id == world["manager"].pk
    assert notice.url == f"/clients/{person.pk}/"
    assert "Смирнова Анна" in notice.text
    assert "Салон A" in notice.text
    assert "Хочет Tiggo 7" in notice.text
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["manager@example.com"]
    assert f"/clients/{person.pk}/" in mail.outbox[0].body


def test_a_known_client_is_found_and_his_request_continued(world: dict[str, Any]) -> None:
    known = ClientFactory.create(phones=["+79123456789"], last_name="Известный")
    kwargs = {
        "actor": world["hostess"],
        "dealer_center_id": world["dc_a"].pk,
        "purpose": "purchase",
    }

    visit_register(phone="8 912 345 67 89", name="Другое Имя", **kwargs)
    visit_register(phone="+7 (912) 345-67-89", **kwargs)

    assert Client.objects.count() == 1
    assert Visit.objects.filter(client=known).count() == 2
    request = Request.objects.get()
    assert (request.client_id, request.touches) == (known.pk, 2)
    assert Notification.objects.count() == 0  # nobody to hand over to
    assert Client.objects.get().last_name == "Известный"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"purpose": "coffee"}, "purpose"),
        ({"dealer_center": "dc_b"}, "dealer_center_id"),  # not the hostess's
        ({"manager": "manager_b"}, "manager_id"),  # another dealer center's manager
        ({"manager": "operator"}, "manager_id"),  # not a sales manager
    ],
)
def test_bad_input_changes_nothing(
    world: dict[str, Any], changes: dict[str, str], field: str
) -> None:
    kwargs: dict[str, Any] = {
        "actor": world["hostess"],
        "phone": changes.get("phone", "+79123456789"),
        "dealer_center_id": world[changes.get("dealer_center", "dc_a")].pk,
        "purpose": changes.get("purpose", "purchase"),
        "manager_id": world[changes["manager"]].pk if "manager" in changes else None,
    }

    with pytest.raises(ValidationFailed) as raised:
        visit_register(**kwargs)

    assert raised.value.field == field
    assert (Client.objects.count(), Visit.objects.count(), Request.objects.count()) == (0, 0, 0)
    assert Notification.objects.count() == 0


def test_the_form_registers_and_comes_back_fresh(
    client: Any, world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(world["hostess"])

    page = client.get(NEW)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            NEW,
            {
                "phone": "8 912 345-67-89",
                "name": "Пётр Петров",
                "purpose": "purchase",
                "dealer_center": world["dc_a"].pk,
                "manager": world["manager"].pk,
                "note": "",
            },
            follow=True,
        )

    html = page.content.decode()
    # The only dealer center of the hostess is chosen; its manager is offered.
    assert f'<option value="{world["dc_a"].pk}" selected>' in html
    assert f'<option value="{world["manager"].pk}">Продажин Сергей</option>' in html
    assert f'value="{world["manager_b"].pk}"' not in html
    assert response.redirect_chain == [(NEW, 302)]
    assert 'id="messages"' in response.content.decode()
    assert "Петров Пётр" in response.content.decode()
    visit = Visit.objects.get()
    assert (visit.client.phones.get().number, visit.manager_id) == (
        "+79123456789",
        world["manager"].pk,
    )
    assert Notification.objects.get().user_id == world["manager"].pk


def test_the_form_shows_errors_without_storing(client: Any, world: dict[str, Any]) -> None:
    client.force_login(world["hostess"])

    response = client.post(
        NEW,
        {"phone": "12", "purpose": "purchase", "dealer_center": world["dc_a"].pk},
    )

    assert response.status_code == 400
    assert "is-invalid" in response.content.decode()
    assert Visit.objects.count() == Client.objects.count() == 0


def test_phone_lookup_names_a_known_client(client: Any, world: dict[str, Any]) -> None:
    known = ClientFactory.create(phones=["+79123456789"], last_name="Известный", first_name="Ян")
    client.force_login(world["hostess"])

    found = client.get("/sales/visits/lookup/", {"phone": "8 912 345 67 89"}).content.decode()
    new = client.get("/sales/visits/lookup/", {"phone": "+7 900 111 22 33"}).content.decode()

    assert "Известный Ян" in found
    assert f'href="/clients/{known.pk}/"' in found
    assert 'id="visit-client-new"' in new
    assert 'name="name"' in new
    assert 'type="text"' in new


def test_manager_options_follow_the_dealer_center(client: Any, world: dict[str, Any]) -> None:
    client.force_login(UserFactory.create(roles=["administrator"]))

    options = client.get("/sales/visits/managers/", {"dealer_center": world["dc_b"].pk})

    assert f'value="{world["manager_b"].pk}"' in options.content.decode()
    assert f'value="{world["manager"].pk}"' not in options.content.decode()


@pytest.mark.parametrize("role", ["sales_manager", "operator", "management"])
def test_only_hostesses_heads_and_administrators_register(
    client: Any, world: dict[str, Any], role: str
) -> None:
    client.force_login(UserFactory.create(roles=[role], dealer_centers=[world["dc_a"]]))

    assert client.get(NEW).status_code == 403
    assert client.post(NEW, {"phone": "+79123456789"}).status_code == 403
    assert Visit.objects.count() == 0


def test_the_api_registers_a_visit(client: Any, world: dict[str, Any]) -> None:
    token = api_token_create(actor=None, user=world["hostess"], name="t").token
    body = {
        "phone": "79123456789",
        "name": "Анна",
        "dealer_center_id": world["dc_a"].pk,
        "purpose": "service",
        "manager_id": world["manager"].pk,
    }

    response = client.post(
        "/api/v1/visits",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    refused = client.post(
        "/api/v1/visits",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer "
        + api_token_create(actor=None, user=world["manager"], name="t").token,
    )

    assert response.status_code == 201, response.content
    visit = Visit.objects.get()
    assert response.json() == {
        "id": visit.pk,
        "client_id": visit.client_id,
        "dealer_center_id": world["dc_a"].pk,
        "purpose": "service",
        "manager_id": world["manager"].pk,
        "note": "",
        "at": response.json()["at"],
    }
    assert refused.status_code == 403
    assert Visit.objects.count() == 1
