"""Run every provider simulator for the demo: ``python -m simulators``.

``make run`` starts this next to the CRM. The simulators play Telegram, WhatsApp and VK
(one HTTP server), the mail server (SMTP + IMAP) and the PBX, configured for the demo
channels that ``seed_demo`` creates (``autocrm/sales/demo_channels.py``):

- http://127.0.0.1:8081/  write to the CRM "as a client" in Telegram, WhatsApp or VK,
  and see what the CRM answered;
- http://127.0.0.1:8025/  the mailboxes; send an e-mail as a client;
- http://127.0.0.1:8082/  the PBX; call the dealer as a client;
- http://127.0.0.1:8083/  the E-Credit broker: credit applications and the banks' decisions.
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

from autocrm.finance.demo_broker import (
    DEMO_BROKER_API_KEY,
    DEMO_BROKER_CALLBACK_SECRET,
    DEMO_BROKER_LOGIN,
    DEMO_BROKER_PORT,
)
from autocrm.sales.demo_channels import (
    DEMO_CHANNELS,
    DEMO_MAIL_PASSWORD,
    DEMO_MAILBOX,
    IMAP_PORT,
    PBX_PORT,
    SMTP_PORT,
    demo_webhook_path,
)
from simulators import ecredit, mail, messengers, pbx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Provider simulators for the AutoCRM demo.")
    parser.add_argument("--crm", default="http://127.0.0.1:8000", help="the CRM's base URL")
    parser.add_argument("--messengers-port", type=int, default=8081)
    parser.add_argument("--mail-http-port", type=int, default=8025)
    args = parser.parse_args(argv)

    settings: dict[str, Any] = {kind: spec["settings"] for kind, spec in DEMO_CHANNELS.items()}
    handles: list[Any] = []
    handles.append(
        messengers.start(
            "127.0.0.1",
            args.messengers_port,
            crm_url=args.crm,
            channels={
                "telegram": {
                    "webhook": demo_webhook_path("telegram"),
                    "secret": settings["telegram"]["secret_token"],
                    "bot_token": settings["telegram"]["bot_token"],
                },
                "whatsapp": {
                    "webhook": demo_webhook_path("whatsapp"),
                    "app_secret": settings["whatsapp"]["app_secret"],
                    "verify_token": settings["whatsapp"]["verify_token"],
                    "access_token": settings["whatsapp"]["access_token"],
                    "phone_number_id": settings["whatsapp"]["phone_number_id"],
                },
                "vk": {
                    "webhook": demo_webhook_path("vk"),
                    "secret": settings["vk"]["secret"],
                    "access_token": settings["vk"]["access_token"],
                    "group_id": None,
                },
            },
        )
    )
    handles.append(
        mail.start(
            "127.0.0.1",
            smtp_port=SMTP_PORT,
            imap_port=IMAP_PORT,
            users={DEMO_MAILBOX: DEMO_MAIL_PASSWORD},
            http_port=args.mail_http_port,
        )
    )
    handles.append(
        pbx.start(
            "127.0.0.1",
            PBX_PORT,
            crm_url=args.crm,
            webhook_path=demo_webhook_path("telephony"),
            signing_secret=settings["telephony"]["signing_secret"],
            # Long enough between events for the operator to see the ringing pop-up.
            event_delay=5.0,
        )
    )
    handles.append(
        ecredit.start(
            "127.0.0.1",
            DEMO_BROKER_PORT,
            api_key=DEMO_BROKER_API_KEY,
            login=DEMO_BROKER_LOGIN,
            callback_secret=DEMO_BROKER_CALLBACK_SECRET,
            # The banks answer one after another, so the demo shows decisions arriving.
            decision_delay=5.0,
            bank_interval=3.0,
        )
    )
    print(
        f"Simulators: messengers http://127.0.0.1:{args.messengers_port}/  "
        f"mail http://127.0.0.1:{args.mail_http_port}/ (SMTP {SMTP_PORT}, IMAP {IMAP_PORT})  "
        f"PBX http://127.0.0.1:{PBX_PORT}/  E-Credit http://127.0.0.1:{DEMO_BROKER_PORT}/",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for handle in handles:
            handle.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
