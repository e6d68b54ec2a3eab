"""Attachment downloads: only for users who see the client, always as a download, never
rendered by the browser."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.communications.models import Attachment, Channel, Conversation, Message
from autocrm.communications.views import download_content_type

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
HTML = b"<html><script>alert(document.cookie)</script></html>"


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def world() -> dict[str, Any]:
    dc_a, dc_b = DealerCenterFactory.create(), DealerCenterFactory.create()
    person = ClientFactory.create(dealer_center=dc_a)
    channel = Channel.objects.create(kind="telegram", name="Bot", dealer_center=dc_a)
    conversation = Conversation.objects.create(
        channel=channel, client=person, external_thread="5001"
    )
    message = Message.objects.create(
        conversation=conversation,
        client=person,
        channel=channel,
        direction="in",
        status="received",
        text="Фото машины",
        at=timezone.now(),
    )
    return {
        "client": person,
        "message": message,
        "sales_a": UserFactory.create(roles=["sales_manager"], dealer_centers=[dc_a]),
        "sales_b": UserFactory.create(roles=["sales_manager"], dealer_centers=[dc_b]),
        "operator": UserFactory.create(roles=["operator"]),
    }


def attachment(message: Message, name: str, content_type: str, content: bytes) -> Attachment:
    row = Attachment(message=message, name=name, content_type=content_type, size=len(content))
    row.file.save(name, ContentFile(content), save=False)
    row.save()
    return row


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_download_keeps_a_harmless_type_and_sends_a_download(
    client: Any, world: dict[str, Any]
) -> None:
    photo = attachment(world["message"], "photo.png", "image/png", PNG)
    client.force_login(world["sales_a"])

    response = client.get(f"/communications/attachments/{photo.pk}/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="photo.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert body(response) == PNG


@pytest.mark.parametrize(
    "stored",
    ["text/html", "TEXT/HTML; charset=utf-8", "image/svg+xml", "application/xhtml+xml", "", "x"],
)
def test_active_or_unknown_types_are_sent_as_bytes(
    client: Any, world: dict[str, Any], stored: str
) -> None:
    page = attachment(world["message"], "page.html", stored, HTML)
    client.force_login(world["sales_a"])

    response = client.get(f"/communications/attachments/{page.pk}/")

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert body(response) == HTML


def test_non_ascii_names_are_kept(client: Any, world: dict[str, Any]) -> None:
    document = attachment(world["message"], "Счёт №5.pdf", "application/pdf", b"%PDF-1.4")
    client.force_login(world["sales_a"])

    response = client.get(f"/communications/attachments/{document.pk}/")

    assert response["Content-Disposition"].startswith("attachment; filename*=utf-8''")
    assert "%D0%A1%D1%87%D1%91%D1%82" in response["Content-Disposition"]


def test_other_dealer_centers_users_get_not_found(client: Any, world: dict[str, Any]) -> None:
    photo = attachment(world["message"], "photo.png", "image/png", PNG)
    url = f"/communications/attachments/{photo.pk}/"

    client.force_login(world["sales_b"])
    assert client.get(url).status_code == 404
    client.force_login(world["operator"])  # the contact center sees every client
    assert client.get(url).status_code == 200
    client.logout()
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_missing_and_not_downloaded_attachments_are_not_found(
    client: Any, world: dict[str, Any]
) -> None:
    remote = Attachment.objects.create(
        message=world["message"], name="voice.ogg", external_ref="tg-file-id"
    )
    client.force_login(world["sales_a"])

    assert client.get(f"/communications/attachments/{remote.pk}/").status_code == 404
    assert client.get("/communications/attachments/999999/").status_code == 404


def test_the_card_links_to_downloads(client: Any, world: dict[str, Any]) -> None:
    photo = attachment(world["message"], "photo <1>.png", "image/png", PNG)
    Attachment.objects.create(message=world["message"], name="voice.ogg", external_ref="tg-1")
    client.force_login(world["sales_a"])

    html = client.get(f"/clients/{world['client'].pk}/").content.decode()

    assert (
        f'<a href="/communications/attachments/{photo.pk}/" download>photo &lt;1&gt;.png</a>'
        in html
    )
    assert "voice.ogg" in html


def test_download_content_type_helper() -> None:
    assert download_content_type("application/pdf") == "application/pdf"
    assert download_content_type("image/jpeg; q=1") == "image/jpeg"
    assert download_content_type("text/html") == "application/octet-stream"
    assert download_content_type("text/javascript") == "application/octet-stream"
    assert download_content_type("a b/c") == "application/octet-stream"
