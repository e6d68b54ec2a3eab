"""Order documents: uploads checked by content and kept outside the web root, generated
contracts and acceptance acts as new versions, deletion of scans, and the htmx tab,
download view and deal passport partial of the order card and vehicle card."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from autocrm.accounts.tests.factories import UserFactory
from autocrm.core.errors import Conflict, NotAllowed, ValidationFailed
from autocrm.orders.models import Document, DocumentKind, OrderEvent, OrderEventKind, OrderStatus
from autocrm.orders.services.documents import (
    document_delete,
    document_generate,
    document_upload,
    download_filename,
)
from autocrm.orders.tests.documents_support import (
    PDF_BYTES,
    add_equipment,
    files_under,
    jpeg_bytes,
    pdf_strings,
    png_bytes,
    private_media,
)
from autocrm.orders.tests.factories import OrderWorld, order_world
from autocrm.orders.tests.invoice_support import issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_root(tmp_path: Path) -> Iterator[Path]:
    with private_media(tmp_path) as root:
        yield root


@pytest.fixture
def world() -> OrderWorld:
    return order_world()


def upload(content: bytes, name: str) -> SimpleUploadedFile:
    # The browser's claimed type is deliberately wrong: only the content counts.
    return SimpleUploadedFile(name, content, content_type="application/pdf")


# --------------------------------------------------------------------------- uploads


def test_a_png_named_pdf_is_stored_as_png_outside_the_web_root(
    world: OrderWorld, private_root: Path
) -> None:
    order = world.order()
    content = png_bytes()

    document = document_upload(
        actor=world.manager, order=order, upload=upload(content, "паспорт.pdf"), title=""
    )

    assert document.kind == DocumentKind.SCAN
    assert document.content_type == "image/png"
    assert document.size == len(content)
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert document.original_name == "паспорт.pdf"
    assert document.title == "паспорт"
    assert document.created_by == world.manager
    assert download_filename(document) == "паспорт.png"
    stored = Path(document.file.path)
    assert stored.read_bytes() == content
    assert stored.is_relative_to(private_root)
    assert not stored.is_relative_to(Path(settings.MEDIA_ROOT))
    assert not stored.is_relative_to(Path(settings.STATIC_ROOT))
    assert "паспорт" not in stored.name  # the client's name never reaches the disk
    assert files_under(Path(settings.MEDIA_ROOT)) == []
    event = OrderEvent.objects.get(order=order, kind=OrderEventKind.DOCUMENT)
    assert (event.subject_id, event.to_value, event.changed_by) == (
        document.pk,
        "scan",
        world.manager,
    )


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(PDF_BYTES, "application/pdf"), (jpeg_bytes(), "image/jpeg")],
    ids=["pdf", "jpeg"],
)
def test_pdf_and_jpeg_are_accepted(
    world: OrderWorld, private_root: Path, content: bytes, content_type: str
) -> None:
    document = document_upload(
        actor=world.manager, order=world.order(), upload=upload(content, "scan"), title="Скан"
    )
    assert (document.content_type, document.title) == (content_type, "Скан")


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"Just text pretending to be a PDF", "contract.pdf"),
        (b"<html><script>alert(1)</script></html>", "page.png"),
        (b"", "empty.pdf"),
    ],
    ids=["text", "html", "empty"],
)
def test_other_content_is_refused_on_the_file_field_and_nothing_is_stored(
    world: OrderWorld, private_root: Path, content: bytes, name: str
) -> None:
    order = world.order()
    with pytest.raises(ValidationFailed) as refused:
        document_upload(actor=world.manager, order=order, upload=upload(content, name))
    assert refused.value.field == "file"
    assert Document.objects.count() == 0
    assert not OrderEvent.objects.filter(kind=OrderEventKind.DOCUMENT).exists()
    assert files_under(private_root) == []


def test_an_oversized_file_is_refused_on_the_file_field(
    world: OrderWorld, private_root: Path
) -> None:
    order = world.order()
    oversized = upload(PDF_BYTES + b"0" * 1100, "a.pdf")
    with override_settings(DOCUMENT_MAX_BYTES=1024), pytest.raises(ValidationFailed) as refused:
        document_upload(actor=world.manager, order=order, upload=oversized)
    assert refused.value.field == "file"
    assert Document.objects.count() == 0
    assert files_under(private_root) == []


def test_names_and_titles_lose_paths_and_control_characters(
    world: OrderWorld, private_root: Path
) -> None:
    document = document_upload(
        actor=world.manager,
        order=world.order(),
        upload=upload(PDF_BYTES, "..\\..\\etc/pass\x00wd\u202egnp.pdf"),
        title="  Договор\x00 подписанный  ",
    )
    assert document.original_name == "pass wd gnp.pdf"
    assert document.title == "Договор подписанный"


def test_another_dealer_centers_manager_cannot_upload(
    world: OrderWorld, private_root: Path
) -> None:
    stranger = order_world(city_name="Апатиты").manager
    with pytest.raises(NotAllowed):
        document_upload(actor=stranger, order=world.order(), upload=upload(PDF_BYTES, "a.pdf"))
    assert Document.objects.count() == 0


# --------------------------------------------------------------------------- generation


def test_the_contract_is_a_pdf_with_the_vin_and_each_generation_is_a_new_version(
    world: OrderWorld, private_root: Path
) -> None:
    order = world.order()
    add_equipment(order)

    first = document_generate(actor=world.manager, order=order, kind="contract")
    second = document_generate(actor=world.manager, order=order, kind="contract")

    content = Path(first.file.path).read_bytes()
    assert content.startswith(b"%PDF-")
    assert world.vehicle.vin.encode() in pdf_strings(content)
    assert (first.kind, first.content_type, first.size) == (
        "contract",
        "application/pdf",
        len(content),
    )
    assert first.sha256 == hashlib.sha256(content).hexdigest()
    assert Path(first.file.path).is_relative_to(private_root)
    assert first.original_name == f"contract-{order.number}.pdf"
    assert second.original_name == f"contract-{order.number}-v2.pdf"
    assert second.title.endswith("2")
    assert Document.objects.filter(order=order, kind="contract").count() == 2
    assert Path(first.file.path).exists()
    assert Path(second.file.path).exists()
    assert OrderEvent.objects.filter(order=order, kind=OrderEventKind.DOCUMENT).count() == 2


def test_the_acceptance_act_waits_for_a_car_ready_for_delivery(
    world: OrderWorld, private_root: Path
) -> None:
    order = world.order()
    with pytest.raises(Conflict) as refused:
        document_generate(actor=world.manager, order=order, kind="acceptance_act")
    assert refused.value.code == "not_ready"
    assert Document.objects.count() == 0

    type(order).objects.filter(pk=order.pk).update(status=OrderStatus.READY)
    act = document_generate(actor=world.manager, order=order, kind="acceptance_act")
    content = Path(act.file.path).read_bytes()
    assert content.startswith(b"%PDF-")
    assert world.vehicle.vin.encode() in pdf_strings(content)
    assert act.kind == DocumentKind.ACCEPTANCE_ACT


@pytest.mark.parametrize("kind", ["scan", "passport", ""])
def test_unknown_kinds_are_refused(world: OrderWorld, private_root: Path, kind: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        document_generate(actor=world.manager, order=world.order(), kind=kind)
    assert refused.value.field == "kind"


def test_an_invoice_document_needs_an_invoice_of_this_order(
    world: OrderWorld, private_root: Path
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        document_generate(actor=world.manager, order=world.order(), kind="invoice")
    assert refused.value.field == "invoice_id"


def test_an_invoice_is_saved_as_its_printed_form(world: OrderWorld, private_root: Path) -> None:
    order = world.order()
    invoice = issue(world, order, "50000.00")
    other_order = world.order(vehicle=world.another_car())
    other_invoice = issue(world, other_order, "10000.00")

    document = document_generate(actor=world.manager, order=order, kind="invoice", invoice=invoice)

    content = Path(document.file.path).read_bytes()
    assert content.startswith(b"%PDF-")
    assert (document.kind, document.invoice, document.content_type) == (
        "invoice",
        invoice,
        "application/pdf",
    )
    assert document.original_name == f"invoice-{invoice.number}.pdf"
    assert invoice.number in document.title
    with pytest.raises(ValidationFailed) as refused:
        document_generate(actor=world.manager, order=order, kind="invoice", invoice=other_invoice)
    assert refused.value.field == "invoice_id"
    assert Document.objects.count() == 1


def test_a_cancelled_order_gets_no_contract(world: OrderWorld, private_root: Path) -> None:
    order = world.order()
    type(order).objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)
    with pytest.raises(Conflict) as refused:
        document_generate(actor=world.manager, order=order, kind="contract")
    assert refused.value.code == "order_closed"


# --------------------------------------------------------------------------- deletion


def test_the_uploader_or_a_head_deletes_a_scan_and_the_file_goes_after_commit(
    world: OrderWorld, private_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    order = world.order()
    colleague = UserFactory.create(roles=["sales_manager"], dealer_centers=[world.dealer_center])
    scan = document_upload(actor=world.manager, order=order, upload=upload(PDF_BYTES, "a.pdf"))
    path = Path(scan.file.path)

    with pytest.raises(NotAllowed):
        document_delete(actor=colleague, document=scan)
    assert Document.objects.filter(pk=scan.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        document_delete(actor=world.manager, document=scan)
    assert not Document.objects.filter(pk=scan.pk).exists()
    assert not path.exists()
    event = OrderEvent.objects.filter(order=order, kind=OrderEventKind.DOCUMENT).first()
    assert event is not None
    assert (event.from_value, event.changed_by) == ("scan", world.manager)

    other = document_upload(actor=colleague, order=order, upload=upload(PDF_BYTES, "b.pdf"))
    with django_capture_on_commit_callbacks(execute=True):
        document_delete(actor=world.head, document=other)
    assert not Document.objects.filter(pk=other.pk).exists()


def test_generated_documents_are_kept(world: OrderWorld, private_root: Path) -> None:
    contract = document_generate(actor=world.manager, order=world.order(), kind="contract")
    with pytest.raises(Conflict) as refused:
        document_delete(actor=world.head, document=contract)
    assert refused.value.code == "not_deletable"
    assert Document.objects.filter(pk=contract.pk).exists()


# --------------------------------------------------------------------------- screens


def test_the_tab_lists_documents_with_links_and_shows_the_limit(
    client: Any, world: OrderWorld, private_root: Path
) -> None:
    order = world.order()
    scan = document_upload(
        actor=world.manager, order=order, upload=upload(PDF_BYTES, "a.pdf"), title="Паспорт"
    )
    client.force_login(world.manager)
    with override_settings(DOCUMENT_MAX_BYTES=5 * 1024 * 1024):
        response = client.get(reverse("orders:documents_tab", args=[order.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Паспорт" in html
    assert reverse("orders:document_download", args=[scan.pk]) in html
    assert 'hx-encoding="multipart/form-data"' in html
    assert "5.0" in html or "5,0" in html
    assert reverse("orders:document_generate", args=[order.pk]) in html


def test_the_tab_and_downloads_are_not_found_in_another_dealer_center(
    client: Any, world: OrderWorld, private_root: Path
) -> None:
    order = world.order()
    scan = document_upload(actor=world.manager, order=order, upload=upload(PDF_BYTES, "a.pdf"))
    client.force_login(order_world(city_name="Апатиты").manager)
    assert client.get(reverse("orders:documents_tab", args=[order.pk])).status_code == 404
    assert client.get(reverse("orders:document_download", args=[scan.pk])).status_code == 404


def test_the_download_view_sends_an_attachment_that_is_never_sniffed(
    client: Any, world: OrderWorld, private_root: Path
) -> None:
    order = world.order()
    content = png_bytes()
    scan = document_upload(actor=world.manager, order=order, upload=upload(content, "скан.pdf"))
    client.force_login(world.head)
    response = client.get(reverse("orders:document_download", args=[scan.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment; filename*=utf-8''")
    assert response["Content-Disposition"].endswith(".png")


def test_uploading_through_the_tab_triggers_order_changed(
    client: Any, world: OrderWorld, private_root: Path
) -> None:
    order = world.order()
    client.force_login(world.manager)
    url = reverse("orders:document_upload", args=[order.pk])
    response = client.post(
        url, {"file": upload(PDF_BYTES, "a.pdf"), "title": "Скан"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assert response["HX-Trigger"] == "orderChanged"
    assert Document.objects.get(order=order).title == "Скан"

    refused = client.post(url, {"file": upload(b"text", "a.pdf")}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 200
    assert "HX-Trigger" not in refused
    assert 'data-error-field="file"' in refused.content.decode()
    assert Document.objects.filter(order=order).count() == 1


def test_generating_through_the_tab(client: Any, world: OrderWorld, private_root: Path) -> None:
    order = world.order()
    client.force_login(world.manager)
    url = reverse("orders:document_generate", args=[order.pk])
    response = client.post(url, {"kind": "contract"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Trigger"] == "orderChanged"
    refused = client.post(url, {"kind": "acceptance_act"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 200
    assert 'data-error-field="kind"' in refused.content.decode()
    assert list(Document.objects.values_list("kind", flat=True)) == ["contract"]


def test_deleting_through_the_tab(client: Any, world: OrderWorld, private_root: Path) -> None:
    order = world.order()
    scan = document_upload(actor=world.manager, order=order, upload=upload(PDF_BYTES, "a.pdf"))
    client.force_login(world.manager)
    response = client.post(
        reverse("orders:document_delete", args=[scan.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assert response["HX-Trigger"] == "orderChanged"
    assert not Document.objects.exists()


# --------------------------------------------------------------------------- passport partial


def test_the_passport_partial_for_heads_and_logisticians_only(
    client: Any, world: OrderWorld
) -> None:
    url = reverse("orders:vehicle_passport", args=[world.vehicle.pk])
    client.force_login(world.manager)
    assert client.get(url).status_code == 403

    client.force_login(world.head)
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-total="margin" data-negative="0"' in html
    assert 'data-amount="272900.00"' in html
    assert 'hx-trigger="orderChanged from:body"' in html

    logistician = UserFactory.create(roles=["logistician"], dealer_centers=[world.dealer_center])
    client.force_login(logistician)
    assert client.get(url).status_code == 200

    client.force_login(order_world(city_name="Апатиты").head)
    assert client.get(url).status_code == 404


def test_a_negative_margin_is_marked(client: Any, world: OrderWorld) -> None:
    losing = world.another_car(cost_price=world.vehicle.price + 1)
    client.force_login(world.head)
    response = client.get(reverse("orders:vehicle_passport", args=[losing.pk]))
    html = response.content.decode()
    assert 'data-negative="1"' in html
    assert "text-danger" in html
    assert 'data-amount="-1.00"' in html
