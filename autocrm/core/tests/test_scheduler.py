"""The periodic-job scheduler: once per slot, safe to run twice, and jobs that really run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from autocrm.core import scheduling
from autocrm.core.models import ScheduledRun
from autocrm.core.scheduling import PeriodicJob, enqueue_due_jobs, registered_jobs

# 07:00:10 UTC: inside the 06:00 slot of six-hourly jobs and the 07:00 slot of hourly ones.
NOW = datetime(2026, 3, 2, 7, 0, 10, tzinfo=UTC)


def test_platform_jobs_are_registered():
    jobs = registered_jobs()
    assert jobs["autocrm.core.tasks.clear_expired_sessions"].every == timedelta(hours=1)
    assert jobs["autocrm.core.tasks.prune_old_runs"].every == timedelta(hours=6)


@pytest.mark.parametrize(
    ("every", "now", "slot"),
    [
        (timedelta(hours=1), NOW, datetime(2026, 3, 2, 7, tzinfo=UTC)),
        (timedelta(hours=6), NOW, datetime(2026, 3, 2, 6, tzinfo=UTC)),
        (
            timedelta(minutes=5),
            datetime(2026, 3, 2, 7, 4, 59, tzinfo=UTC),
            datetime(2026, 3, 2, 7, 0, tzinfo=UTC),
        ),
        (
            timedelta(minutes=5),
            datetime(2026, 3, 2, 7, 5, tzinfo=UTC),
            datetime(2026, 3, 2, 7, 5, tzinfo=UTC),
        ),
        (
            timedelta(days=1),
            datetime(2026, 3, 2, 23, 59, tzinfo=UTC),
            datetime(2026, 3, 2, tzinfo=UTC),
        ),
    ],
)
def test_slots_are_cut_from_the_epoch_in_utc(every, now, slot):
    assert PeriodicJob(name="job", every=every, task=None).slot_for(now) == slot


def test_slot_does_not_depend_on_the_callers_time_zone():
    from zoneinfo import ZoneInfo

    job = PeriodicJob(name="job", every=timedelta(hours=6), task=None)
    novosibirsk = NOW.astimezone(ZoneInfo("Asia/Novosibirsk"))
    assert job.slot_for(novosibirsk) == job.slot_for(NOW)


def test_jobs_more_often_than_every_10_seconds_are_refused():
    with pytest.raises(ValueError, match="at most every 10 seconds"):
        scheduling.periodic(every=timedelta(seconds=5))


@pytest.mark.django_db
def test_each_job_is_enqueued_once_per_slot():
    jobs = registered_jobs()

    first = enqueue_due_jobs(NOW)
    # Still inside every job's slot: the shortest period is 10 s and NOW starts a slot.
    again = enqueue_due_jobs(NOW + timedelta(seconds=5))

    assert sorted(first) == sorted(jobs)
    assert again == []
    assert ScheduledRun.objects.count() == len(jobs)
    assert DBTaskResult.objects.count() == len(jobs)
    for run in ScheduledRun.objects.all():
        result = DBTaskResult.objects.get(id=run.task_result_id)
        assert result.task_path == run.job
        assert result.status == TaskResultStatus.READY
        assert run.slot == jobs[run.job].slot_for(NOW)


@pytest.mark.django_db
def test_next_slot_enqueues_only_the_jobs_that_are_due():
    enqueue_due_jobs(NOW)

    # One hour later the hourly (and more frequent) jobs have a new slot; the six-hourly
    # one does not.
    later = enqueue_due_jobs(NOW + timedelta(hours=1))

    jobs = registered_jobs()
    due = [name for name, job in jobs.items() if job.every <= timedelta(hours=1)]
    assert sorted(later) == sorted(due)
    assert "autocrm.core.tasks.clear_expired_sessions" in later
    assert "autocrm.core.tasks.prune_old_runs" not in later
    assert ScheduledRun.objects.filter(job="autocrm.core.tasks.clear_expired_sessions").count() == 2
    assert ScheduledRun.objects.filter(job="autocrm.core.tasks.prune_old_runs").count() == 1


@pytest.mark.django_db
def test_a_failing_enqueue_releases_the_slot(monkeypatch):
    # Claim and enqueue are one transaction: if enqueueing fails, the slot stays free for
    # the next tick instead of being lost.
    job = registered_jobs()["autocrm.core.tasks.clear_expired_sessions"]

    class Boom(Exception):
        pass

    class BrokenTask:
        def enqueue(self) -> None:
            raise Boom

    broken = PeriodicJob(name=job.name, every=job.every, task=BrokenTask())
    monkeypatch.setattr(scheduling, "registered_jobs", lambda: {job.name: broken})
    with pytest.raises(Boom):
        enqueue_due_jobs(NOW)
    assert not ScheduledRun.objects.exists()

    monkeypatch.undo()
    assert job.name in enqueue_due_jobs(NOW)


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_enqueue_each_job_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers: run the suite with DATABASE_URL=postgres://...")
    jobs = registered_jobs()
    barrier = threading.Barrier(2)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def scheduler_copy() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(enqueue_due_jobs(NOW))
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler_copy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == 2
    assert sorted(results[0] + results[1]) == sorted(jobs)
    assert ScheduledRun.objects.count() == len(jobs)
    assert DBTaskResult.objects.count() == len(jobs)


# transaction=True: each tick calls close_old_connections(), which (correctly) drops a
# connection found inside an open transaction, such as a test's wrapping one.
@pytest.mark.django_db(transaction=True)
def test_scheduler_once_command_enqueues_and_exits():
    out = StringIO()

    call_command("scheduler", "--once", stdout=out)

    output = out.getvalue()
    jobs = registered_jobs()
    assert f"scheduler: {len(jobs)} periodic jobs" in output
    for name in jobs:
        assert f"enqueued {name}" in output
    assert ScheduledRun.objects.count() == len(jobs)

    second = StringIO()
    call_command("scheduler", "--once", stdout=second)
    assert "enqueued" not in second.getvalue()


@pytest.mark.django_db(transaction=True)
def test_enqueued_jobs_run_in_the_database_worker():
    enqueue_due_jobs(NOW)
    jobs = registered_jobs()
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == len(jobs)

    call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay", verbosity=0)

    results = list(DBTaskResult.objects.all())
    assert len(results) == len(jobs)
    for result in results:
        assert result.status == TaskResultStatus.SUCCESSFUL, (
            result.task_path,
            result.exception_class_path,
            result.traceback,
        )
        assert result.finished_at is not None
