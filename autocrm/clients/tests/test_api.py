"""The clients API: search, scoping, find-before-create, contacts, consents, merge."""

from __future__ import annotations

from typing import Any

import pytest

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.models import Client, ClientIdentity, ClientMerge, ClientPhone, Consent
from autocrm.clients.services import client_merge
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import Channel, Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    dc_a, dc_b = DealerCenterFactory(name="A"), DealerCenterFactory(name="B")
    users = {
        "operator": UserFactory(username="operator", roles=[RoleCode.OPERATOR]),
        "head_a": UserFactory(username="head_a", roles=[RoleCode.HEAD], dealer_centers=[dc_a]),
        "sales_a": UserFactory(
            username="sales_a", roles=[RoleCode.SALES_MANAGER], dealer_centers=[dc_a]
        ),
        "sales_b": UserFactory(
            username="sales_b", roles=[RoleCode.SALES_MANAGER], dealer_centers=[dc_b]
        ),
        "logistician": UserFactory(username="logistician", roles=[RoleCode.LOGISTICIAN]),
    }
    ivanov = ClientFactory(
        last_name="Иванов",
        first_name="Пётр",
        dealer_center=dc_a,
        phones=["+79123456789"],
        emails=["Petr.Ivanov@Example.com"],
    )
    ClientIdentity.objects.create(
        client=ivanov, kind="telegram", external_id="5001", username="petr_iv"
    )
    smirnova = ClientFactory(last_name="Смирнова", first_name="Анна", dealer_center=dc_b)
    nobody = ClientFactory(last_name="Неизвестный", first_name="", dealer_center=None)
    return {
        "dc_a": dc_a,
        "dc_b": dc_b,
        **users,
        "ivanov": ivanov,
        "smirnova": smirnova,
        "nobody": nobody,
    }


def as_user(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def found(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["items"])
    return [item["id"] for item in body["items"]]


@pytest.mark.parametrize(
    "q",
    [
        "8 (912) 345-67-89",
        "+7 912 345 67 89",
        "79123456789",
        "89123456789",
        "petr.ivanov@example.com",
        "PETR.IVANOV@EXAMPLE.COM",
        "иванов",
        "ИВАНОВ",
        "Иван",
        "пётр иванов",
        "@petr_iv",
        "petr_iv",
        "5001",
    ],
)
def test_search_finds_the_client_by_any_of_his_handles(client, world, q) -> None:
    response = as_user(client, world["operator"]).get("/api/v1/clients", {"q": q})

    assert found(response) == [world["ivanov"].pk]


@pytest.mark.parametrize("q", ["8 (912) 345-67-80", "petr@example.com", "Петров", "@petr"])
def test_search_finds_nothing_for_near_misses(client, world, q) -> None:
    assert found(as_user(client, world["operator"]).get("/api/v1/clients", {"q": q})) == []


def test_a_list_item_has_the_contract_fields(client, world) -> None:
    ivanov = world["ivanov"]

    response = as_user(client, world["operator"]).get("/api/v1/clients", {"q": "+79123456789"})

    assert response.json() == {
        "count": 1,
        "items": [
            {
                "id": ivanov.pk,
                "name": "Иванов Пётр",
                "kind": "person",
                "phones": ["+79123456789"],
                "emails": ["petr.ivanov@example.com"],
                "identities": [{"kind": "telegram", "external_id": "5001", "username": "petr_iv"}],
                "dealer_center_id": world["dc_a"].pk,
                "responsible_id": None,
                # JSON times have millisecond precision.
                "created_at": ivanov.created_at.isoformat(timespec="milliseconds").replace(
                    "+00:00", "Z"
                ),
            }
        ],
    }


@pytest.mark.parametrize(
    ("user", "visible"),
    [
        ("operator", {"ivanov", "smirnova", "nobody"}),
        ("head_a", {"ivanov", "nobody"}),
        ("sales_a", {"ivanov", "nobody"}),
        ("sales_b", {"smirnova", "nobody"}),
    ],
)
def test_everybody_sees_his_dealer_centers_clients_and_unrouted_ones(
    client, world, user, visible
) -> None:
    response = as_user(client, world[user]).get("/api/v1/clients")

    assert set(found(response)) == {world[name].pk for name in visible}
    # Searching does not widen it.
    assert found(client.get("/api/v1/clients", {"q": "+79123456789"})) == (
        [world["ivanov"].pk] if "ivanov" in visible else []
    )


def test_logisticians_do_not_see_the_client_base(client, world) -> None:
    response = as_user(client, world["logistician"]).get("/api/v1/clients")
    assert response.status_code == 403


def test_pages_and_merged_clients(client, world) -> None:
    extra = ClientFactory(last_name="Иванова", first_name="Анна", dealer_center=world["dc_a"])
    gone = ClientFactory(last_name="Иванов", first_name="Пётр", dealer_center=world["dc_a"])
    client_merge(survivor=world["ivanov"], other=gone)
    api = as_user(client, world["operator"])

    first = api.get("/api/v1/clients", {"q": "иванов", "limit": 1})
    second = api.get("/api/v1/clients", {"q": "иванов", "limit": 1, "offset": 1})
    bad = api.get("/api/v1/clients", {"limit": 0})

    assert first.json()["count"] == 2
    assert found_ids(first) + found_ids(second) == [world["ivanov"].pk, extra.pk]
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "limit"


def found_ids(response: Any) -> list[int]:
    return [item["id"] for item in response.json()["items"]]


# --- detail, create, change ------------------------------------------------------------


def test_the_detail_shows_the_consent_that_holds_per_purpose(client, world) -> None:
    api = as_user(client, world["sales_a"])
    url = f"/api/v1/clients/{world['ivanov'].pk}/consents"
    assert (
        api.post(
            url,
            {"purpose": "marketing", "granted": True, "source": "call"},
            content_type="application/json",
        ).status_code
        == 201
    )
    response = api.post(
        url, {"purpose": "marketing", "granted": False}, content_type="application/json"
    )

    assert response.status_code == 201
    body = api.get(f"/api/v1/clients/{world['ivanov'].pk}").json()
    assert [(c["purpose"], c["granted"], c["source"]) for c in body["consents"]] == [
        ("marketing", False, "api")
    ]
    assert body["merged_into_id"] is None
    assert Consent.objects.count() == 2


def test_a_client_of_another_dealer_center_is_not_found(client, world) -> None:
    api = as_user(client, world["sales_b"])
    for response in (
        api.get(f"/api/v1/clients/{world['ivanov'].pk}"),
        api.patch(
            f"/api/v1/clients/{world['ivanov'].pk}", {"note": "x"}, content_type="application/json"
        ),
        api.post(
            f"/api/v1/clients/{world['ivanov'].pk}/phones",
            {"phone": "+79000000000"},
            content_type="application/json",
        ),
    ):
        assert response.status_code == 404
    world["ivanov"].refresh_from_db()
    assert world["ivanov"].note == ""
    assert ClientPhone.objects.count() == 1


def test_create_a_client(client, world) -> None:
    api = as_user(client, world["sales_a"])

    response = api.post(
        "/api/v1/clients",
        {
            "last_name": "Петров",
            "first_name": "Иван",
            "phones": ["8 (900) 123-45-67"],
            "emails": ["Ivan@Example.org"],
            "dealer_center_id": world["dc_a"].pk,
            "responsible_id": world["sales_a"].pk,
            "consents": {"personal_data": True, "marketing": False},
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    created = Client.objects.get(pk=body["id"])
    assert (body["name"], body["phones"], body["emails"]) == (
        "Петров Иван",
        ["+79001234567"],
        ["ivan@example.org"],
    )
    assert (body["dealer_center_id"], body["responsible_id"]) == (
        world["dc_a"].pk,
        world["sales_a"].pk,
    )
    assert [(c["purpose"], c["granted"], c["source"]) for c in body["consents"]] == [
        ("marketing", False, "api"),
        ("personal_data", True, "api"),
    ]
    assert created.search_name == "петров иван"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "last_name"),
        ({"last_name": "Петров", "phones": ["+79001234567", "12"]}, "phones[1]"),
        ({"last_name": "Петров", "emails": ["no-at-sign"]}, "emails[0]"),
        ({"kind": "company", "phones": ["+79001234567"]}, "company_name"),
        ({"kind": "robot", "last_name": "X"}, "kind"),
        ({"last_name": "Петров", "consents": {"spam": True}}, "consents.spam"),
        ({"last_name": "Петров", "phones": "+79001234567"}, "phones"),
    ],
)
def test_bad_input_is_refused_naming_the_field(client, world, body, field) -> None:
    response = as_user(client, world["sales_a"]).post(
        "/api/v1/clients", body, content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == field
    assert Client.objects.count() == 3


def test_a_dealer_center_out_of_scope_is_refused(client, world) -> None:
    response = as_user(client, world["sales_a"]).post(
        "/api/v1/clients",
        {"last_name": "Петров", "dealer_center_id": world["dc_b"].pk},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "dealer_center_id"
    assert Client.objects.count() == 3


def test_find_before_create_answers_409_with_the_existing_client(client, world) -> None:
    api = as_user(client, world["sales_a"])
    ivanov = world["ivanov"]

    by_phone = api.post(
        "/api/v1/clients",
        {"last_name": "Иванов", "phones": ["+79000000000", "8 912 345 67 89"]},
        content_type="application/json",
    )
    by_email = api.post(
        "/api/v1/clients",
        {"first_name": "Пётр", "emails": ["PETR.IVANOV@example.com"]},
        content_type="application/json",
    )

    assert by_phone.status_code == by_email.status_code == 409
    assert by_phone.json()["errors"] == [
        {
            "code": "duplicate_contact",
            "message": f"Телефон +79123456789 принадлежит клиенту №{ivanov.pk} (Иванов Пётр).",
            "field": "phones[1]",
            "client_id": ivanov.pk,
        }
    ]
    assert str(ivanov.pk) in by_phone.json()["detail"]
    assert by_email.json()["errors"][0]["field"] == "emails[0]"
    assert by_email.json()["errors"][0]["client_id"] == ivanov.pk
    assert Client.objects.count() == 3
    assert ClientPhone.objects.count() == 1

    allowed = api.post(
        "/api/v1/clients",
        {"last_name": "Иванов", "phones": ["8 912 345 67 89"], "allow_duplicate": True},
        content_type="application/json",
    )
    assert allowed.status_code == 201
    assert ClientPhone.objects.filter(number="+79123456789").count() == 2


def test_a_contact_of_a_client_the_user_cannot_see_does_not_block_creation(client, world) -> None:
    response = as_user(client, world["sales_b"]).post(
        "/api/v1/clients",
        {"last_name": "Иванов", "phones": ["+79123456789"]},
        content_type="application/json",
    )
    assert response.status_code == 201


def test_change_a_client(client, world) -> None:
    api = as_user(client, world["sales_a"])
    url = f"/api/v1/clients/{world['ivanov'].pk}"

    response = api.patch(
        url,
        {"middle_name": "Сергеевич", "note": "VIP", "dealer_center_id": None},
        content_type="application/json",
    )
    refused = api.patch(
        url, {"dealer_center_id": world["dc_b"].pk}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["note"]) == ("Иванов Пётр Сергеевич", "VIP")
    assert response.json()["dealer_center_id"] is None
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "dealer_center_id"
    assert Client.objects.get(pk=world["ivanov"].pk).search_name == "иванов пётр сергеевич"


def test_add_contacts(client, world) -> None:
    api = as_user(client, world["sales_a"])
    base = f"/api/v1/clients/{world['ivanov'].pk}"

    phone = api.post(
        f"{base}/phones", {"phone": "8 900 000 00 01"}, content_type="application/json"
    )
    again = api.post(f"{base}/phones", {"phone": "+79000000001"}, content_type="application/json")
    email = api.post(
        f"{base}/emails", {"email": "Second@Example.com"}, content_type="application/json"
    )
    bad = api.post(f"{base}/phones", {"phone": "call me"}, content_type="application/json")
    nobody_phone = api.post(
        f"/api/v1/clients/{world['nobody'].pk}/phones",
        {"phone": "+79123456789"},
        content_type="application/json",
    )

    assert phone.status_code == again.status_code == email.status_code == 201
    assert again.json()["phones"] == ["+79123456789", "+79000000001"]
    assert email.json()["emails"] == ["petr.ivanov@example.com", "second@example.com"]
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "phone"
    assert nobody_phone.status_code == 409
    assert nobody_phone.json()["errors"][0]["client_id"] == world["ivanov"].pk
    assert ClientPhone.objects.count() == 2


# --- merge -------------------------------------------------------------------------------


def test_merge_through_the_api(client, world) -> None:
    ivanov, nobody = world["ivanov"], world["nobody"]
    channel = Channel.objects.create(kind="telegram", name="Бот")
    conversation = Conversation.objects.create(channel=channel, client=nobody, external_thread="1")
    Message.objects.create(
        conversation=conversation,
        client=nobody,
        channel=channel,
        direction="in",
        text="Здравствуйте",
        status="received",
    )
    ClientPhone.objects.create(client=nobody, number="+79000000009")

    response = as_user(client, world["head_a"]).post(
        f"/api/v1/clients/{ivanov.pk}/merge",
        {"other_id": nobody.pk},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["phones"]) == (ivanov.pk, ["+79123456789", "+79000000009"])
    assert Message.objects.get().client_id == ivanov.pk
    assert Conversation.objects.get().client_id == ivanov.pk
    merge = ClientMerge.objects.get()
    assert (merge.survivor_id, merge.merged_id, merge.merged_by) == (
        ivanov.pk,
        nobody.pk,
        world["head_a"],
    )
    assert merge.moved["communications.message"] == 1
    merged = client.get(f"/api/v1/clients/{nobody.pk}").json()
    assert merged["merged_into_id"] == ivanov.pk
    assert nobody.pk not in found(client.get("/api/v1/clients"))


def test_merge_refusals(client, world) -> None:
    ivanov, smirnova, nobody = world["ivanov"], world["smirnova"], world["nobody"]
    head = as_user(client, world["head_a"])

    def merge(survivor: Client, body: dict[str, Any]) -> Any:
        return head.post(
            f"/api/v1/clients/{survivor.pk}/merge", body, content_type="application/json"
        )

    out_of_scope = merge(ivanov, {"other_id": smirnova.pk})
    survivor_out_of_scope = merge(smirnova, {"other_id": ivanov.pk})
    itself = merge(ivanov, {"other_id": ivanov.pk})
    missing = merge(ivanov, {})
    not_a_number = merge(ivanov, {"other_id": "two"})

    assert (out_of_scope.status_code, out_of_scope.json()["errors"][0]["field"]) == (
        404,
        "other_id",
    )
    assert survivor_out_of_scope.status_code == 404
    assert (itself.status_code, itself.json()["errors"][0]["field"]) == (400, "other_id")
    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (400, "other_id")
    assert (not_a_number.status_code, not_a_number.json()["errors"][0]["field"]) == (
        400,
        "other_id",
    )
    assert ClientMerge.objects.count() == 0

    assert merge(ivanov, {"other_id": nobody.pk}).status_code == 200
    twice = merge(ivanov, {"other_id": nobody.pk})
    reverse = merge(nobody, {"other_id": ivanov.pk})
    assert (twice.status_code, reverse.status_code) == (409, 409)
    assert ClientMerge.objects.count() == 1


def test_sales_managers_may_not_merge(client, world) -> None:
    response = as_user(client, world["sales_a"]).post(
        f"/api/v1/clients/{world['ivanov'].pk}/merge",
        {"other_id": world["nobody"].pk},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert ClientMerge.objects.count() == 0
    assert Client.objects.filter(merged_into__isnull=False).count() == 0


def test_the_duplicates_endpoint(client, world) -> None:
    twin = ClientFactory(
        last_name="Петров",
        first_name="Олег",
        dealer_center=world["dc_a"],
        phones=["8 912 345 67 89"],
    )

    response = as_user(client, world["head_a"]).get("/api/v1/clients/duplicates")
    refused = as_user(client, world["sales_a"]).get("/api/v1/clients/duplicates")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    pair = body["items"][0]
    assert (pair["first"]["id"], pair["second"]["id"]) == (world["ivanov"].pk, twin.pk)
    assert (pair["reasons"], pair["shared"], pair["score"]) == (["phone"], ["+79123456789"], 1.0)
    assert refused.status_code == 403
