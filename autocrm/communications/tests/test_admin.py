"""The communications admin: channels through the services with settings checked (a form
error, never a 500), secrets masked; inbox events read-only with a "retry" action."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from autocrm.accounts.tests.factories import UserFactory
from autocrm.communications.models import Channel, InboundEvent, InboundStatus
from autocrm.communications.services import channel_create

pytestmark = pytest.mark.django_db

SETTINGS = {
    "bot_token": "123456:ABCDEFGHIJKLMNOP",
    "secret_token": "s3cret-token",
    "api_base_url": "http://127.0.0.1:9",
}


@pytest.fixture
def admin_client(client: Any) -> Any:
    client.force_login(UserFactory.create(username="admin", roles=["administrator"], is_staff=True))
    return client


def _add(admin_client: Any, settings: Any) -> Any:
    return admin_client.post(
        reverse("admin:communications_channel_add"),
        {
            "kind": "telegram",
            "name": "Бот",
            "settings": settings if isinstance(settings, str) else json.dumps(settings),
            "is_active": "on",
        },
    )


def test_channel_is_created_through_the_service(admin_client: Any) -> None:
    response = _add(admin_client, SETTINGS)

    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get()
    assert channel.settings == SETTINGS
    assert channel.webhook_path.startswith("/hooks/telegram/")


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"secret_token": "s3cret"}, "settings"),
        ("{not json", "settings"),
        ("[1, 2]", "settings"),
        ({**SETTINGS, "api_base_url": "ftp://x"}, "settings"),
    ],
)
def test_bad_settings_are_a_form_error(admin_client: Any, value: Any, field: str) -> None:
    response = _add(admin_client, value)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    assert Channel.objects.count() == 0


def test_a_missing_setting_is_named_in_the_error(admin_client: Any) -> None:
    response = _add(admin_client, {"secret_token": "s3cret"})

    errors = response.context["adminform"].form.errors["settings"]
    assert errors[0].startswith("settings.bot_token: ")


def test_list_and_form_show_secrets_masked_and_keep_them(admin_client: Any) -> None:
    channel = channel_create(kind="telegram", name="Бот", settings=SETTINGS)
    change_url = reverse("admin:communications_channel_change", args=[channel.pk])

    listing = admin_client.get(reverse("admin:communications_channel_changelist")).content
    form = admin_client.get(change_url).content.decode()
    saved = admin_client.post(
        change_url,
        {
            "name": "Новое имя",
            "settings": json.dumps(
                {
                    "bot_token": "********MNOP",
                    "secret_token": "********",
                    "api_base_url": "http://127.0.0.1:10",
                }
            ),
            "is_active": "on",
        },
    )

    assert b"********MNOP" in listing
    assert SETTINGS["bot_token"].encode() not in listing
    assert SETTINGS["bot_token"] not in form
    assert SETTINGS["secret_token"] not in form
    assert saved.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "Новое имя"
    assert channel.settings == {**SETTINGS, "api_base_url": "http://127.0.0.1:10"}


def test_failed_inbox_events_are_retried_by_the_action(admin_client: Any) -> None:
    channel = channel_create(kind="telegram", name="Бот", settings=SETTINGS)
    failed = InboundEvent.objects.create(
        channel=channel, external_id="1", status=InboundStatus.FAILED, attempts=8, last_error="x"
    )
    done = InboundEvent.objects.create(channel=channel, external_id="2", status=InboundStatus.DONE)
    changelist = reverse("admin:communications_inboundevent_changelist")

    page = admin_client.get(changelist, {"status": "failed", "has_error": "yes"})
    response = admin_client.post(
        changelist,
        {"action": "retry", "_selected_action": [failed.pk, done.pk]},
        follow=True,
    )

    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [failed]
    assert "1 событие с ошибкой будет обработано повторно." in response.content.decode()
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.status, failed.attempts) == (InboundStatus.PENDING, 0)
    assert done.status == InboundStatus.DONE


@pytest.mark.parametrize(
    "model", ["inboundevent", "conversation", "message", "call", "visit", "formsubmission"]
)
def test_history_is_read_only(admin_client: Any, model: str) -> None:
    assert admin_client.get(reverse(f"admin:communications_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:communications_{model}_add")).status_code == 403


def test_non_administrators_have_no_channel_admin(client: Any) -> None:
    client.force_login(UserFactory.create(roles=["operator"], is_staff=True))

    response = client.get(reverse("admin:communications_channel_changelist"))

    assert response.status_code in (302, 403)
