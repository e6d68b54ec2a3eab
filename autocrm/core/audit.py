"""Audit trail: django-simple-history with the acting user recorded everywhere.

In a request, simple-history's middleware knows the user. Services also run from tasks,
management commands and the scheduler, where there is no request: they wrap their writes in
``acting_user(user)`` so every history row still names who acted.

Usage in a model::

    history = audit_history()

and in a service::

    with acting_user(actor):
        dealer_center.save()
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from simple_history.models import HistoricalRecords

_actor: contextvars.ContextVar[Any] = contextvars.ContextVar("autocrm_actor", default=None)


def user_or_none(actor: Any) -> Any:
    """The employee behind an action, or None for the system (a job, the scheduler, an
    anonymous webhook): what ``changed_by``/``created_by`` columns store."""
    return actor if getattr(actor, "is_authenticated", False) else None


@contextmanager
def acting_user(user: Any) -> Iterator[None]:
    """Record ``user`` as the author of every history row written inside the block."""
    token = _actor.set(user_or_none(user))
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> Any:
    return _actor.get()


def _history_user(request: Any = None, **_: Any) -> Any:
    actor = _actor.get()
    if actor is not None:
        return actor
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return None


def audit_history(**kwargs: Any) -> HistoricalRecords:
    """The one way apps attach an audit trail to a model."""
    kwargs.setdefault("get_user", _history_user)
    kwargs.setdefault("cascade_delete_history", False)
    return HistoricalRecords(**kwargs)
