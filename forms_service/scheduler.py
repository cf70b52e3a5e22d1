"""The one scheduler of a deployment: every minute the outbox and reminders, digests on each
programme's schedule, and retention at night.

Under `make run` it runs in the web process (BackgroundScheduler); in production it runs alone
(`flask --app forms_service scheduler`). A lock file in the instance folder lets only one run
per instance folder: a second one refuses to start and says which process holds the lock.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from filelock import FileLock, Timeout
from flask import Flask

from . import jobs

log = logging.getLogger(__name__)

DAYS = {"mon": "mon", "tue": "tue", "wed": "wed", "thu": "thu", "fri": "fri", "sat": "sat", "sun": "sun",
        "daily": "*"}


class SchedulerLocked(RuntimeError):
    """Another scheduler already runs for this instance folder."""


def acquire_lock(instance_path: str) -> FileLock:
    """Hold the instance's scheduler lock, or raise SchedulerLocked naming the holder."""
    instance = Path(instance_path)
    lock = FileLock(str(instance / "scheduler.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = (instance / "scheduler.pid").read_text(encoding="utf-8").strip() \
            if (instance / "scheduler.pid").exists() else "unknown"
        raise SchedulerLocked(
            f"Another scheduler is already running for {instance} (process {holder}). Only one may run "
            "per deployment: leave that one running, or stop it before starting this one."
        ) from None
    (instance / "scheduler.pid").write_text(str(os.getpid()), encoding="utf-8")
    return lock


@contextmanager
def job_context(app: Flask):
    """What a job needs outside a web request: the app, and a request context for url_for."""
    with app.app_context(), app.test_request_context():
        yield


def _run(app: Flask, job, *args) -> None:
    with job_context(app):
        job(*args)


def add_jobs(app: Flask, scheduler) -> None:
    programmes = app.extensions["programmes"]
    zone = programmes.time_zone
    scheduler.add_job(_run, IntervalTrigger(minutes=1), args=(app, jobs.tick), id="tick",
                      name="outbox, new submissions and reminders", max_instances=1, coalesce=True)
    for programme in programmes:
        day, at = programme.digest.split()
        hour, minute = at.split(":")
        scheduler.add_job(_run, CronTrigger(day_of_week=DAYS[day], hour=int(hour), minute=int(minute),
                                            timezone=zone),
                          args=(app, jobs.digest, programme.id), id=f"digest-{programme.id}",
                          name=f"feedback digest for {programme.id}", max_instances=1, coalesce=True)
    scheduler.add_job(_run, CronTrigger(hour=3, minute=30, timezone=zone), args=(app, jobs.purge),
                      id="purge", name="retention", max_instances=1, coalesce=True)


def start_in_background(app: Flask) -> BackgroundScheduler:
    """For the development server: the scheduler in a thread of the web process."""
    lock = acquire_lock(app.instance_path)
    scheduler = BackgroundScheduler(timezone=app.extensions["programmes"].time_zone)
    add_jobs(app, scheduler)
    scheduler.start()
    scheduler.lock = lock
    return scheduler


def run_forever(app: Flask) -> None:
    """For production: the scheduler as a process of its own, until it is stopped."""
    lock = acquire_lock(app.instance_path)
    try:
        scheduler = BlockingScheduler(timezone=app.extensions["programmes"].time_zone)
        add_jobs(app, scheduler)
        log.info("scheduler running for %s", app.instance_path)
        scheduler.start()
    finally:
        lock.release()
