"""Background work of the platform: the housekeeping jobs, and the audit trail outside requests."""

from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from autocrm.core.audit import acting_user, current_actor
from autocrm.core.models import ScheduledRun
from autocrm.core.tasks import clear_expired_sessions, prune_old_runs

pytestmark = pytest.mark.django_db


def make_session(*, expires_in: timedelta) -> str:
    store = SessionStore()
    store["user"] = "someone"
    store.create()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() + expires_in
    )
    assert store.session_key is not None
    return store.session_key


def test_clear_expired_sessions_keeps_live_ones():
    expired = make_session(expires_in=-timedelta(minutes=1))
    live = make_session(expires_in=timedelta(hours=1))

    clear_expired_sessions.call()

    assert list(Session.objects.values_list("session_key", flat=True)) == [live]
    assert expired != live


def test_prune_old_runs_drops_week_old_bookkeeping_only():
    now = timezone.now()
    old_run = ScheduledRun.objects.create(job="job", slot=now - timedelta(days=8))
    fresh_run = ScheduledRun.objects.create(job="job", slot=now - timedelta(days=6))
    old_result = clear_expired_sessions.enqueue()
    fresh_result = clear_expired_sessions.enqueue()
    waiting_result = clear_expired_sessions.enqueue()
    DBTaskResult.objects.filter(id=old_result.id).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=now - timedelta(days=8)
    )
    DBTaskResult.objects.filter(id=fresh_result.id).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=now - timedelta(days=1)
    )

    deleted = prune_old_runs.call()

    assert deleted == 1
    assert list(ScheduledRun.objects.all()) == [fresh_run]
    assert not ScheduledRun.objects.filter(pk=old_run.pk).exists()
    assert {str(pk) for pk in DBTaskResult.objects.values_list("id", flat=True)} == {
        fresh_result.id,
        waiting_result.id,  # not finished yet: never pruned
    }


# --- audit context outside requests (history rows themselves: config/tests/test_audit.py) ---


def actor(name: str) -> SimpleNamespace:
    return SimpleNamespace(username=name, is_authenticated=True)


def test_acting_user_restores_the_previous_actor_and_ignores_anonymous():
    from django.contrib.auth.models import AnonymousUser

    outer, inner = actor("outer"), actor("inner")
    assert current_actor() is None
    with acting_user(outer):
        with acting_user(inner):
            assert current_actor() is inner
        assert current_actor() is outer
        with acting_user(AnonymousUser()):
            assert current_actor() is None
    assert current_actor() is None


def test_acting_user_is_reset_when_the_block_raises():
    with pytest.raises(RuntimeError), acting_user(actor("admin")):
        raise RuntimeError
    assert current_actor() is None


def test_acting_user_does_not_leak_into_other_threads():
    seen: list[object] = []

    with acting_user(actor("admin")):
        thread = threading.Thread(target=lambda: seen.append(current_actor()))
        thread.start()
        thread.join()

    assert seen == [None]
