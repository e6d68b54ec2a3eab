"""The demo channels' settings, shared by ``sales.demo`` (which creates the channels) and
``python -m simulators`` (which plays their providers for ``make run``).

Plain values only, no Django: the simulators' runner imports this without the CRM.
"""

from __future__ import annotations

from typing import Any

# Where `make run` starts the simulators (simulators/__main__.py uses the same values).
MESSENGERS_URL = "http://127.0.0.1:8081"
PBX_PORT = 8082
PBX_URL = f"http://127.0.0.1:{PBX_PORT}"
SMTP_PORT = 2525
IMAP_PORT = 1143
DEMO_MAILBOX = "crm@demo.autocrm.test"
DEMO_MAIL_PASSWORD = "demo-mail-password"  # noqa: S105 - the simulator's demo mailbox

DEMO_CHANNELS: dict[str, dict[str, Any]] = {
    "telegram": {
        "name": "Telegram-бот группы",
        "settings": {
            "bot_token": "100200:demo-bot-token",
            "secret_token": "demo-telegram-secret",
            "api_base_url": MESSENGERS_URL,
        },
    },
    "whatsapp": {
        "name": "WhatsApp Business",
        "settings": {
            "app_secret": "demo-whatsapp-app-secret",
            "verify_token": "demo-whatsapp-verify",
            "access_token": "demo-whatsapp-access-token",
            "phone_number_id": "100200300",
            "api_base_url": f"{MESSENGERS_URL}/v21.0",
        },
    },
    "vk": {
        "name": "Сообщество ВКонтакте",
        "settings": {
            "confirmation_code": "demo-vk-confirmation",
            "secret": "demo-vk-secret",
            "access_token": "demo-vk-access-token",
            "api_base_url": f"{MESSENGERS_URL}/method",
        },
    },
    "email": {
        "name": "Почта отдела продаж",
        "settings": {
            "address": DEMO_MAILBOX,
            "imap_host": "127.0.0.1",
            "imap_port": IMAP_PORT,
            "imap_ssl": False,
            "imap_username": DEMO_MAILBOX,
            "imap_password": DEMO_MAIL_PASSWORD,
            "smtp_host": "127.0.0.1",
            "smtp_port": SMTP_PORT,
            "smtp_ssl": False,
            "smtp_starttls": False,
            "from_name": "AutoCRM Demo",
        },
    },
    "webform": {
        "name": "Форма на сайте",
        "settings": {"allowed_origins": [MESSENGERS_URL], "rate_limit_per_minute": 60},
    },
    "telephony": {
        "name": "АТС колл-центра",
        "settings": {"signing_secret": "demo-pbx-signing-secret", "api_base_url": PBX_URL},
    },
}


def demo_webhook_key(kind: str) -> str:
    """Fixed webhook keys, so the simulators know the demo channels' URLs."""
    return f"demo-{kind}"


def demo_webhook_path(kind: str) -> str:
    return f"/hooks/{kind}/{demo_webhook_key(kind)}/"
