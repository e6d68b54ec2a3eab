"""A client's photo or document arrives as a provider file id; the background download
stores the bytes, and the client card's download link then serves them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from autocrm.accounts.tests.factories import UserFactory
from autocrm.communications.channels.base import SendError
from autocrm.communications.channels.common import MAX_ATTACHMENT_BYTES
from autocrm.communications.models import Attachment, Message
from autocrm.communications.services import attachment_fetch
from autocrm.communications.tasks import fetch_attachment
from autocrm.sales.intake import inbox_drain
from simulators.messengers import MessengerSimulator

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40 + b"\xff\xd9"
PDF = b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 50 + b"%%EOF\n"


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


def download(client: Any, attachment: Attachment) -> Any:
    client.force_login(UserFactory.create(roles=["operator"]))
    return client.get(f"/communications/attachments/{attachment.pk}/")


def test_telegram_photo_is_downloaded_and_served(
    client: Any,
    messenger_sim: MessengerSimulator,
    telegram_channel: Any,
    inprocess_hook: Callable[[Any], str],
) -> None:
    status = messenger_sim.telegram_send_media(
        inprocess_hook(telegram_channel), None, 5001, "AgACAgIAAxkBAAIB", JPEG, caption="Фото"
    )
    assert status == 200
    assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}
    attachment = Attachment.objects.get()
    assert (attachment.external_ref, attachment.file.name) == ("AgACAgIAAxkBAAIB", "")
    assert Message.objects.get().text == "Фото"
    assert download(client, attachment).status_code == 404  # not downloaded yet

    assert fetch_attachment.call(attachment.pk) == "stored"

    attachment.refresh_from_db()
    assert (attachment.name, attachment.content_type, attachment.size) == (
        "photo.jpg",
        "image/jpeg",
        len(JPEG),
    )
    assert attachment.file.read() == JPEG
    response = download(client, attachment)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"] == 'attachment; filename="photo.jpg"'
    assert b"".join(response.streaming_content) == JPEG
    # A second run (a repeated task) leaves the stored file alone, with no provider call.
    calls = list(messenger_sim.calls)
    assert fetch_attachment.call(attachment.pk) == "stored"
    assert messenger_sim.calls == calls
    attachment.refresh_from_db()
    assert attachment.file.read() == JPEG


def test_whatsapp_document_is_downloaded_and_served(
    client: Any,
    django_capture_on_commit_callbacks: Any,
    messenger_sim: MessengerSimulator,
    whatsapp_channel: Any,
    inprocess_hook: Callable[[Any], str],
) -> None:
    status = messenger_sim.whatsapp_send_media(
        inprocess_hook(whatsapp_channel),
        None,
        "79123456789",
        "1037543291543636",
        PDF,
        kind="document",
        mime_type="application/pdf",
        filename="Договор.pdf",
        name="Анна",
    )
    assert status == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert inbox_drain() == {"done": 1, "skipped": 0, "failed": 0}
    attachment = Attachment.objects.get()
    assert attachment.external_ref == "1037543291543636"
    # Recording the message queued the download (the worker would run it).
    assert list(DBTaskResult.objects.values_list("task_path", "args_kwargs")) == [
        (
            "autocrm.communications.tasks.fetch_attachment",
            {"args": [attachment.pk], "kwargs": {}},
        )
    ]

    stored = attachment_fetch(attachment_id=attachment.pk)

    assert (stored.name, stored.content_type, stored.size) == (
        "Договор.pdf",
        "application/pdf",
        len(PDF),
    )
    attachment.refresh_from_db()
    assert attachment.file.read() == PDF
    response = download(client, attachment)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == PDF


def test_provider_trouble_is_retried_later(
    messenger_sim: MessengerSimulator,
    whatsapp_channel: Any,
    inprocess_hook: Callable[[Any], str],
) -> None:
    messenger_sim.whatsapp_send_media(
        inprocess_hook(whatsapp_channel), None, "79123456789", "555", PDF, kind="document"
    )
    inbox_drain()
    attachment = Attachment.objects.get()
    messenger_sim.fail_next("whatsapp", 500)

    with pytest.raises(SendError) as caught:
        attachment_fetch(attachment_id=attachment.pk)

    assert caught.value.retryable is True
    attachment.refresh_from_db()
    assert (attachment.file.name, attachment.size) == ("", 0)
    # The next try succeeds.
    assert attachment_fetch(attachment_id=attachment.pk).file.read() == PDF


def test_too_big_a_file_is_refused_and_nothing_stored(
    messenger_sim: MessengerSimulator,
    telegram_channel: Any,
    whatsapp_channel: Any,
    inprocess_hook: Callable[[Any], str],
    tmp_path: Any,
) -> None:
    huge = b"\0" * (MAX_ATTACHMENT_BYTES + 1)
    messenger_sim.telegram_send_media(
        inprocess_hook(telegram_channel),
        None,
        5001,
        "BQACAgIAAxkBAAIC",
        huge,
        kind="document",
        mime_type="video/mp4",
        file_name="big.mp4",
    )
    messenger_sim.whatsapp_send_media(
        inprocess_hook(whatsapp_channel), None, "79123456789", "777", huge, kind="video"
    )
    assert inbox_drain() == {"done": 2, "skipped": 0, "failed": 0}
    telegram, whatsapp = Attachment.objects.order_by("pk")

    for attachment in (telegram, whatsapp):
        with pytest.raises(SendError) as caught:
            attachment_fetch(attachment_id=attachment.pk)
        assert (caught.value.reason, caught.value.retryable) == (
            "the file is larger than 20 MB",
            False,
        )
    assert fetch_attachment.call(telegram.pk) == "refused: the file is larger than 20 MB"
    assert list(Attachment.objects.order_by("pk").values_list("file", "size")) == [
        ("", len(huge)),  # Telegram told the size in the update
        ("", 0),
    ]
    assert list(tmp_path.iterdir()) == []
