"""HTTP API of order documents and of the deal passport, through Django's test client with
bearer tokens of named users: a manager and a head of the Мурманск dealer center, a
manager of another dealer center, a logistician and group management."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import UserFactory
from autocrm.orders.models import Document, Order, OrderStatus
from autocrm.orders.tests.documents_support import (
    PDF_BYTES,
    add_equipment,
    add_product,
    add_promotion,
    files_under,
    pdf_strings,
    png_bytes,
    private_media,
)
from autocrm.orders.tests.factories import OrderWorld, order_world
from autocrm.orders.tests.invoice_support import issue

pytestmark = pytest.mark.django_db


class Caller:
    def __init__(self, client: Any, user: Any) -> None:
        self.client = client
        self.user = user
        token = api_token_create(actor=None, user=user, name="tests").token
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def get(self, url: str, **query: Any) -> Any:
        return self.client.get(url, query, **self.headers)

    def post_json(self, url: str, body: Any) -> Any:
        return self.client.post(
            url, json.dumps(body), content_type="application/json", **self.headers
        )

    def upload(self, url: str, content: bytes, name: str, **fields: Any) -> Any:
        file = SimpleUploadedFile(name, content, content_type="application/pdf")
        return self.client.post(url, {"file": file, **fields}, **self.headers)

    def delete(self, url: str) -> Any:
        return self.client.delete(url, **self.headers)


@pytest.fixture
def private_root(tmp_path: Path) -> Iterator[Path]:
    with private_media(tmp_path) as root:
        yield root


@pytest.fixture
def world() -> OrderWorld:
    return order_world()


@pytest.fixture
def order(world: OrderWorld) -> Order:
    return world.order()


def documents_url(order: Order) -> str:
    return f"/api/v1/orders/{order.pk}/documents"


# --------------------------------------------------------------------------- documents


def test_upload_list_download_and_delete_a_scan(
    client: Any, world: OrderWorld, order: Order, private_root: Path
) -> None:
    manager = Caller(client, world.manager)
    content = png_bytes()

    created = manager.upload(documents_url(order), content, "скан.pdf", title="Паспорт клиента")

    assert created.status_code == 201, created.content
    body = created.json()
    document = Document.objects.get()
    assert body["id"] == document.pk
    assert body["order_id"] == order.pk
    assert (body["kind"], body["title"], body["content_type"]) == (
        "scan",
        "Паспорт клиента",
        "image/png",
    )
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["original_name"] == "скан.pdf"
    assert body["created_by"] == {"id": world.manager.pk, "name": world.manager.display_name}
    assert body["download_url"] == f"/api/v1/documents/{document.pk}/download"
    assert Path(document.file.path).is_relative_to(private_root)

    listed = manager.get(documents_url(order))
    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    assert [item["id"] for item in listed.json()["items"]] == [document.pk]

    downloaded = manager.get(body["download_url"])
    assert downloaded.status_code == 200
    assert b"".join(downloaded.streaming_content) == content
    assert downloaded["Content-Type"] == "image/png"
    assert downloaded["X-Content-Type-Options"] == "nosniff"
    assert downloaded["Content-Disposition"].startswith("attachment;")
    assert downloaded["Content-Disposition"].endswith(".png")

    deleted = manager.delete(f"/api/v1/documents/{document.pk}")
    assert deleted.status_code == 204
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "limit"),
    [
        (b"plain text, not a PDF", "contract.pdf", None),
        (b"", "empty.pdf", None),
        (PDF_BYTES + b"0" * 2048, "big.pdf", 1024),
    ],
    ids=["text-named-pdf", "empty", "oversized"],
)
def test_refused_uploads_name_the_file_field_and_store_nothing(
    client: Any,
    world: OrderWorld,
    order: Order,
    private_root: Path,
    content: bytes,
    name: str,
    limit: int | None,
) -> None:
    overrides = {} if limit is None else {"DOCUMENT_MAX_BYTES": limit}
    with override_settings(**overrides):
        response = Caller(client, world.manager).upload(documents_url(order), content, name)
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "file"
    assert not Document.objects.exists()
    assert files_under(private_root) == []


def test_an_upload_without_a_file_is_a_400_on_file(
    client: Any, world: OrderWorld, order: Order, private_root: Path
) -> None:
    response = Caller(client, world.manager).post_json(documents_url(order), {})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file"


def test_another_dealer_centers_manager_gets_404_everywhere(
    client: Any, world: OrderWorld, order: Order, private_root: Path
) -> None:
    scan = Caller(client, world.manager).upload(documents_url(order), PDF_BYTES, "a.pdf").json()
    stranger = Caller(client, order_world(city_name="Апатиты").manager)

    assert stranger.get(documents_url(order)).status_code == 404
    assert stranger.upload(documents_url(order), PDF_BYTES, "b.pdf").status_code == 404
    generate = stranger.post_json(f"{documents_url(order)}/generate", {"kind": "contract"})
    assert generate.status_code == 404
    assert stranger.get(scan["download_url"]).status_code == 404
    assert stranger.delete(f"/api/v1/documents/{scan['id']}").status_code == 404
    assert Document.objects.count() == 1


def test_only_the_uploader_or_a_head_deletes_and_generated_documents_stay(
    client: Any, world: OrderWorld, order: Order, private_root: Path
) -> None:
    scan = Caller(client, world.manager).upload(documents_url(order), PDF_BYTES, "a.pdf").json()
    colleague = UserFactory.create(roles=["sales_manager"], dealer_centers=[world.dealer_center])
    refused = Caller(client, colleague).delete(f"/api/v1/documents/{scan['id']}")
    assert refused.status_code == 403

    head = Caller(client, world.head)
    contract = head.post_json(f"{documents_url(order)}/generate", {"kind": "contract"}).json()
    kept = head.delete(f"/api/v1/documents/{contract['id']}")
    assert kept.status_code == 409
    assert kept.json()["errors"][0]["code"] == "not_deletable"
    assert head.delete(f"/api/v1/documents/{scan['id']}").status_code == 204
    assert list(Document.objects.values_list("kind", flat=True)) == ["contract"]


def test_generate_a_contract_with_the_vin(
    client: Any, world: OrderWorld, order: Order, private_root: Path
) -> None:
    manager = Caller(client, world.manager)
    response = manager.post_json(f"{documents_url(order)}/generate", {"kind": "contract"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["content_type"], body["invoice_id"]) == (
        "contract",
        "application/pdf",
        None,
    )
    downloaded = manager.get(body["download_url"])
    content = b"".join(downloaded.streaming_content)
    assert downloaded["Content-Type"] == "application/pdf"
    assert content.startswith(b"%PDF-")
    assert world.vehicle.vin.encode() in pdf_strings(content)
    assert body["size"] == len(content)


def test_generate_refusals(
    client: Any, world: OrderWorld, order: Order, private_root: Path
) -> None:
    manager = Caller(client, world.manager)
    url = f"{documents_url(order)}/generate"

    act = manager.post_json(url, {"kind": "acceptance_act"})
    assert act.status_code == 409
    assert act.json()["errors"][0]["code"] == "not_ready"
    unknown = manager.post_json(url, {"kind": "passport"})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "kind"
    no_invoice = manager.post_json(url, {"kind": "invoice"})
    assert no_invoice.status_code == 400
    assert no_invoice.json()["errors"][0]["field"] == "invoice_id"
    foreign = manager.post_json(url, {"kind": "invoice", "invoice_id": 999_999})
    assert foreign.status_code == 400
    assert foreign.json()["errors"][0]["field"] == "invoice_id"
    assert not Document.objects.exists()

    logistician = UserFactory.create(roles=["logistician"], dealer_centers=[world.dealer_center])
    forbidden = Caller(client, logistician).post_json(url, {"kind": "contract"})
    assert forbidden.status_code == 403


def test_generate_an_invoice_and_an_acceptance_act(
    client: Any, world: OrderWorld, order: Order, private_root: Path
) -> None:
    manager = Caller(client, world.manager)
    invoice = issue(world, order, "50000.00")
    url = f"{documents_url(order)}/generate"

    printed = manager.post_json(url, {"kind": "invoice", "invoice_id": invoice.pk})
    assert printed.status_code == 201, printed.content
    assert printed.json()["invoice_id"] == invoice.pk
    assert printed.json()["original_name"] == f"invoice-{invoice.number}.pdf"

    Order.objects.filter(pk=order.pk).update(status=OrderStatus.DELIVERED)
    act = manager.post_json(url, {"kind": "acceptance_act"})
    assert act.status_code == 201, act.content
    assert act.json()["kind"] == "acceptance_act"


# --------------------------------------------------------------------------- deal passport


def test_the_deal_passport_of_an_ordered_car(client: Any, world: OrderWorld, order: Order) -> None:
    add_equipment(order, price="60000.00", cost="35000.00")
    add_promotion(order, discount="100000.00", bonus="50000.00")
    add_product(order, price="49900.00", commission="43146.00")

    response = Caller(client, world.head).get(f"/api/v1/vehicles/{world.vehicle.pk}/deal-passport")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["vehicle_id"] == world.vehicle.pk
    assert body["order_id"] == order.pk
    assert [(line["kind"], line["code"], line["amount"]) for line in body["lines"]] == [
        ("info", "recommended_price", "1829900.00"),
        ("income", "sale_price", "1829900.00"),
        ("income", "equipment_sale", "60000.00"),
        ("income", "importer_bonuses", "50000.00"),
        ("income", "product_commissions", "43146.00"),
        ("expense", "cost_price", "1500000.00"),
        ("expense", "transport_cost", "45000.00"),
        ("expense", "consignment_cost", "12000.00"),
        ("expense", "equipment_cost", "35000.00"),
        ("expense", "promotion_discounts", "100000.00"),
    ]
    assert all(line["label"] for line in body["lines"])
    assert (body["income_total"], body["expense_total"], body["margin"]) == (
        "1983046.00",
        "1692000.00",
        "291046.00",
    )


def test_the_deal_passport_without_an_order(client: Any, world: OrderWorld) -> None:
    body = Caller(client, world.head).get(f"/api/v1/vehicles/{world.vehicle.pk}/deal-passport")
    assert body.json()["order_id"] is None
    assert (body.json()["income_total"], body.json()["expense_total"], body.json()["margin"]) == (
        "1829900.00",
        "1557000.00",
        "272900.00",
    )


def test_who_may_see_a_deal_passport(client: Any, world: OrderWorld) -> None:
    url = f"/api/v1/vehicles/{world.vehicle.pk}/deal-passport"
    logistician = UserFactory.create(roles=["logistician"], dealer_centers=[world.dealer_center])
    management = UserFactory.create(roles=["management"])
    other = order_world(city_name="Апатиты")

    assert Caller(client, world.manager).get(url).status_code == 403
    assert Caller(client, other.manager).get(url).status_code == 403
    assert Caller(client, logistician).get(url).status_code == 200
    assert Caller(client, management).get(url).status_code == 200
    assert Caller(client, other.head).get(url).status_code == 404
    assert (
        Caller(client, world.head).get("/api/v1/vehicles/999999999/deal-passport").status_code
        == 404
    )


# --------------------------------------------------------------------------- the authorization world


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/orders/999999/documents"),
        ("POST", "/api/v1/orders/999999/documents"),
        ("POST", "/api/v1/orders/999999/documents/generate"),
        ("GET", "/api/v1/documents/999999/download"),
        ("DELETE", "/api/v1/documents/999999"),
    ],
)
@pytest.mark.parametrize("role", ["sales_manager", "head", "management", "administrator"])
def test_missing_ids_are_404_whatever_the_body(
    client: Any, world: OrderWorld, method: str, path: str, role: str
) -> None:
    # As the authorization test calls every endpoint: a JSON body "{}" and unknown ids.
    user = UserFactory.create(roles=[role], dealer_centers=[world.dealer_center])
    caller = Caller(client, user)
    response = client.generic(
        method, path, data=b"{}", content_type="application/json", **caller.headers
    )
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json; charset=utf-8"
