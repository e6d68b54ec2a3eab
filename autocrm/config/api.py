"""The HTTP API under /api/v1/: one NinjaAPI, app routers mounted here, errors as JSON."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer

from autocrm.accounts.api import router as accounts_router
from autocrm.accounts.services import api_token_authenticate
from autocrm.core.errors import DomainError


class BearerToken(HttpBearer):
    """``Authorization: Bearer <token>`` for integrators (tokens from create_api_token)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class Session(APIKeyCookie):
    """The browser's login session; unsafe methods also need the CSRF token."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


api = NinjaAPI(
    title="AutoCRM API",
    version="1.0.0",
    description="HTTP API of AutoCRM. See docs/api.md for authentication and conventions.",
    auth=[BearerToken(), Session(csrf=True)],
    urls_namespace="api",
)
api.add_router("", accounts_router)


def _error(request: HttpRequest, status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "errors": errors or []}, status=status)


def _field_of(location: list[Any] | tuple[Any, ...]) -> str:
    # ninja reports e.g. ("query", "limit") or ("body", "payload", "name"); integrators
    # want the name they sent, not where ninja looked for it.
    parts = [str(part) for part in location if part not in ("query", "body", "path", "header", "cookie", "form", "file", "payload", "params", "data")]
    return ".".join(parts) or "body"


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "field": _field_of(error.get("loc", ())),
            "message": error.get("msg", "Invalid value."),
            "code": error.get("type", "invalid"),
        }
        for error in exc.errors
    ]
    return _error(request, 400, "Invalid input: " + ", ".join(sorted({e["field"] for e in errors})), errors)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _error(request, exc.status_code, str(exc.message), [exc.as_dict() | {"field": exc.field}])


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(request, 401, "Authentication required: send Authorization: Bearer <token>.")
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
