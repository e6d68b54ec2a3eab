"""The HTTP API under /api/v1/: one NinjaAPI, app routers mounted here, errors as JSON.

The interactive docs (/api/v1/docs) use ninja's bundled Swagger UI from /static/ninja/
(``ninja`` is in INSTALLED_APPS), so they work offline. They run under the project's
strict CSP unchanged: Swagger UI sets styles through the CSSOM, which ``style-src 'self'``
allows (checked in Chromium: no violation reports, "Try it out" works).

Every response of the API is JSON, errors included: ``{"detail": ..., "errors": [...]}``
where each error names the offending ``field`` when one input is to blame (docs/api.md).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, URLResolver, path
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from autocrm.accounts.api import router as accounts_router
from autocrm.accounts.services import api_token_authenticate
from autocrm.clients.api import router as clients_router
from autocrm.clients.api_timeline import router as clients_timeline_router
from autocrm.communications.api import router as communications_router
from autocrm.core.errors import DomainError
from autocrm.finance.api import router as finance_router
from autocrm.finance.api_credit import router as finance_credit_router
from autocrm.inventory.api import router as inventory_router
from autocrm.orders.api import router as orders_router
from autocrm.orders.api_catalog import router as orders_catalog_router
from autocrm.orders.api_documents import router as orders_documents_router
from autocrm.orders.api_invoices import router as orders_invoices_router
from autocrm.sales.api import router as sales_router
from autocrm.sales.api_funnel import router as sales_funnel_router
from autocrm.trade_ins.api import router as trade_ins_router


class BearerToken(HttpBearer):
    """``Authorization: Bearer <token>`` for integrators (tokens from create_api_token)."""

    def __call__(self, request: HttpRequest) -> Any:
        # ninja's own parser logs the whole header in DEBUG when the scheme is not
        # "Bearer", which would put a Basic password into the log; parse it here.
        header = request.headers.get(self.header, "")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != self.openapi_scheme or not token.strip():
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class Session(APIKeyCookie):
    """The browser's login session; unsafe methods also need the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Any:
        # ninja checks CSRF before looking at the cookie, so an integrator whose token
        # is wrong would get "CSRF failed" (403) on a POST instead of 401. Only a
        # request that really carries a logged-in session is subject to CSRF.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        exempt = getattr(request, "_ninja_csrf_exempt", False)
        if self.csrf and not exempt and check_csrf(request) is not None:
            raise HttpError(403, "CSRF check failed: send the X-CSRFToken header.")
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return self(request)  # unused: __call__ above does the whole job


def _json_method_not_allowed(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """ninja answers a wrong method with a bare text 405; give it the API's error body."""

    @functools.wraps(view)  # keeps csrf_exempt: ninja checks CSRF itself (Session)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and "Allow" in response:
            allowed = response["Allow"]
            response = _error(
                request, 405, f"Method {request.method} not allowed here; allowed: {allowed}."
            )
            response["Allow"] = allowed
        return response

    return wrapper


class AutoCrmApi(NinjaAPI):
    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        # ninja's root view raises Http404 outside its exception handlers, and unknown
        # paths would fall through to Django's HTML 404: keep the API all-JSON.
        urls = [
            path("", self._not_found, name="api-root")
            if isinstance(url, URLPattern) and url.name == "api-root"
            else url
            for url in urls
        ]
        urls.append(path("<path:unknown>", self._not_found, name="api-not-found"))
        for url in urls:
            if isinstance(url, URLPattern):
                url.callback = _json_method_not_allowed(url.callback)
        return urls

    def _not_found(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return _error(request, 404, "Not found: no such API endpoint.")


api = AutoCrmApi(
    title="AutoCRM API",
    version="1.0.0",
    description="HTTP API of AutoCRM. See docs/api.md for authentication and conventions.",
    auth=[BearerToken(), Session(csrf=True)],
    urls_namespace="api",
)
api.add_router("", accounts_router)
api.add_router("", inventory_router)
api.add_router("", clients_router)
api.add_router("", clients_timeline_router)
api.add_router("", communications_router)
api.add_router("", sales_router)
api.add_router("", sales_funnel_router)
api.add_router("", orders_router)
api.add_router("", orders_catalog_router)
api.add_router("", orders_invoices_router)
api.add_router("", orders_documents_router)
api.add_router("", finance_router)
api.add_router("", finance_credit_router)
api.add_router("", trade_ins_router)


def _error(
    request: HttpRequest, status: int, detail: str, errors: list[dict[str, Any]] | None = None
) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "errors": errors or []}, status=status)


# Where ninja looked for a value; integrators want the name they sent.
_LOCATIONS = frozenset({"query", "body", "path", "header", "cookie", "form", "file"})


def _field_of(location: list[Any] | tuple[Any, ...]) -> str:
    # ninja reports e.g. ("query", "limit") or ("body", "payload", "name"): drop the
    # source and the name of the schema argument that wraps the fields.
    parts = [str(part) for part in location]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
        if len(parts) > 1 and parts[0] in {"payload", "params", "data", "filters"}:
            parts = parts[1:]
    return ".".join(parts) or "body"


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "field": _field_of(error.get("loc", ())),
            "message": str(error.get("msg", "Invalid value.")),
            "code": str(error.get("type", "invalid")),
        }
        for error in exc.errors
    ]
    fields = ", ".join(dict.fromkeys(error["field"] for error in errors))
    return _error(request, 400, f"Invalid input: {fields}.", errors)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _error(
        request, exc.status_code, str(exc.message), [exc.as_dict() | {"field": exc.field}]
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(
        request,
        401,
        "Authentication required: send a valid token as Authorization: Bearer <token>.",
        [
            {
                "field": "Authorization",
                "message": "Missing, unknown, expired or revoked token.",
                "code": "not_authenticated",
            }
        ],
    )
    response["WWW-Authenticate"] = 'Bearer realm="autocrm"'
    return response


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "Not found.")


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, "You do not have permission to perform this action.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, str(exc))


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # A bug, not bad input: keep the answer JSON, and log it where Django logs 500s so
    # that error reporting (ADMINS mail, Sentry) still sees it. In development the
    # debug page is more useful.
    if settings.DEBUG:
        raise exc
    logging.getLogger("django.request").error(
        "Internal Server Error: %s",
        request.path,
        exc_info=exc,
        extra={"status_code": 500, "request": request},
    )
    return _error(request, 500, "Internal server error.")
