"""WSGI entry point (granian serves ``application``).

Provider webhooks (``/hooks/``) are the busiest requests by far (hundreds a second from
messengers under load) and need nothing the middleware stack gives: no session, user,
CSRF (the view is exempt), language, CSP or dealer-center switcher. They are served by a
handler without middleware, which saves about a third of each webhook's CPU time;
``views_hooks.webhook`` sets the few headers that still matter and checks the host.
Every other path goes through the full stack.
"""

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autocrm.config.settings")

WEBHOOK_PREFIX = "/hooks/"


class WebhookHandler(WSGIHandler):
    """Django's WSGI handler with an empty middleware chain (request signals, URL
    resolution and error handling stay as they are)."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        # The stack Django would build, minus the middleware: the view call itself.
        self._middleware_chain = convert_exception_to_response(
            self._get_response  # type: ignore[attr-defined]  # not in django-stubs
        )


django_application = get_wsgi_application()
webhook_application = WebhookHandler()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO", "").startswith(WEBHOOK_PREFIX):
        return webhook_application(environ, start_response)
    return django_application(environ, start_response)
