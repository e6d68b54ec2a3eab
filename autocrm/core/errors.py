"""Domain errors raised by services and translated to 4xx responses by the API and views.

A service never returns an HTTP response; it raises one of these with a message meant for
the user and, where one input is to blame, the name of that field.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a request that the business rules refuse. Maps to HTTP 400."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": str(self.message)}
        if self.field:
            error["field"] = self.field
        return error


class ValidationFailed(DomainError):
    code = "validation_error"


class NotAllowed(DomainError):
    """The acting user may not do this (HTTP 403)."""

    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    """The object does not exist or is outside the user's scope (HTTP 404)."""

    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    """The request conflicts with the current state, e.g. a concurrent change (HTTP 409)."""

    status_code = 409
    code = "conflict"


class TransitionNotAllowed(Conflict):
    """A status move that the workflow's transition map does not permit."""

    code = "transition_not_allowed"
