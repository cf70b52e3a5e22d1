"""The one scheduler of a deployment: it moves every due record on, sends the outbox, and runs
the digests and retention on their schedules.

One process of the deployment is the active scheduler: it holds the storage's leader lock (a file
lock in the instance folder, or a PostgreSQL advisory lock). Any other one waits as a standby and
takes over within ``STANDBY_POLL_S`` when the active one dies, and at once goes on with what the
dead one had claimed but not finished (``take_over``). Every process that claims records (the
scheduler, and the commands ``run-due``, ``outbox send`` and ``digest``) holds the lock while it
works, so a claim standing when the lock changes hands belongs to a process that is gone. Under
`make run` it runs in a thread of the web process; in production alone (`flask --app
forms_service scheduler`).

The run (``run_due``): for each area (concern reports, agreements) the records whose due time has
come are claimed and handed to that area's ``step``, then the outbox is sent. Only what is due
is read, so a run costs the same with a thousand or a hundred thousand records stored. Each
step, and each record within it, runs on its own: one that fails is logged (id and error type,
never content) and put off with a backoff, and the admin is told once it has failed several
times; the rest goes on. The run repeats every ``RUN_EVERY_S``, and at once when a submission
wakes it (``storage.notify``), so a new concern report is emailed within seconds.

The digests and retention are cron jobs (APScheduler) that catch up once after downtime: the
time each last ran is stored, and at start-up a run that was missed is made up, once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask, current_app

from . import agreement, concern, faults, feedback, mail
from .programmes import Person
from .storage import ClaimLost, RecordNotFound, StatusConflict, StorageUnavailable, store, utcnow

log = logging.getLogger(__name__)

# The areas whose records the run moves on, each with its KIND and step(record, now).
AREAS = (concern, agreement)
RUN_EVERY_S = 15
STANDBY_POLL_S = 10
STEP_LEASE = timedelta(minutes=10)
STEP_BATCH = 50
# A step that fails is tried again after 1, 2, 4 ... minutes, at most an hour apart.
STEP_RETRY = timedelta(minutes=1)
STEP_FAILURES_TOLD = 3
STATE = "scheduler_state"
HEARTBEAT_EVERY = timedelta(minutes=1)
SENT_MAIL_KEPT = timedelta(days=30)
DAYS = {"mon": "mon", "tue": "tue", "wed": "wed", "thu": "thu", "fri": "fri", "sat": "sat", "sun": "sun",
        "daily": "*"}


@contextmanager
def job_context(app: Flask):
    """What a job needs outside a web request: the app, and a request context for url_for."""
    with app.app_context(), app.test_request_context(base_url=app.config["PUBLIC_URL"]):
        yield


# -- the run ------------------------------------------------------------------------------------

def run_due(now: datetime | None = None) -> dict[str, int]:
    """Move every due record on, then send the outbox; returns the outbox's counts."""
    now = now or utcnow()
    for area in AREAS:
        try:
            _run_area(area, now)
        except StorageUnavailable as error:
            log.error("run: %s skipped this time: %s", area.KIND, error)
    try:
        return mail.send_due(now)
    except StorageUnavailable as error:
        log.error("run: the outbox was not sent this time: %s", error)
        return {"sent": 0, "retry": 0, "failed": 0}


def _run_area(area, now: datetime) -> int:
    done = 0
    while True:
        batch = store().claim(area.KIND, due_before=now, lease=STEP_LEASE, limit=STEP_BATCH, now=now)
        for record in batch:
            faults.point(f"{area.KIND}-claimed")
            _isolated_step(area, record, now)
            done += 1
        if len(batch) < STEP_BATCH:
            return done


def _isolated_step(area, record, now: datetime) -> None:
    try:
        area.step(record, now)
    except (ClaimLost, RecordNotFound):
        log.info("run: %s %s was taken over or removed meanwhile", area.KIND, record.id)
    except StatusConflict:
        # The status moved on meanwhile (a confirmation, say): look at it again in the next run.
        _put_off(area, record, now, now, None)
    except Exception as error:  # noqa: BLE001 - one bad record must not stop the rest
        failures = record.data.get("step_failures", 0) + 1
        log.error("run: %s %s failed (%s, %d time(s)); the rest goes on", area.KIND, record.id,
                  type(error).__name__, failures)
        delay = min(STEP_RETRY * 2 ** (failures - 1), timedelta(hours=1))
        _put_off(area, record, now, now + delay, failures)
        if failures == STEP_FAILURES_TOLD:
            _tell_admin(area.KIND, record, type(error).__name__, now)


def _put_off(area, record, now: datetime, due: datetime, failures: int | None) -> None:
    try:
        store().update(area.KIND, record.id, claim=record.claim, due=due, now=now,
                       data={"step_failures": failures} if failures else None)
    except (StatusConflict, RecordNotFound):
        pass
    except StorageUnavailable as error:
        log.error("run: could not put off %s %s: %s", area.KIND, record.id, error)


def _tell_admin(kind: str, record, error: str, now: datetime) -> None:
    admin = current_app.config.get("ADMIN_EMAIL")
    if not admin:
        return
    try:
        mail.queue("record_stuck", Person("Admin", admin, current_app.config["DEFAULT_LANGUAGE"]),
                   key=f"{kind}:{record.id}", priority=mail.HIGH, now=now, kind=kind, record_id=record.id,
                   error=error, programme_id=record.programme)
    except Exception as problem:  # noqa: BLE001 - telling is best effort; the log has it
        log.error("run: could not tell the admin about %s %s: %s", kind, record.id, type(problem).__name__)


# -- retention ------------------------------------------------------------------------------------

def purge(now: datetime | None = None) -> dict[str, int]:
    """Delete what has been kept long enough; logs how many, never what. Concern reports are
    deleted by their own step, counted from when they were read, and never unread."""
    now = now or utcnow()
    deleted: dict[str, int] = {}
    programmes = current_app.extensions["programmes"]

    def drop(kind: str, days: int, **which) -> None:
        try:
            deleted[kind] = deleted.get(kind, 0) + store().purge(kind, before=now - timedelta(days=days), **which)
        except StorageUnavailable as error:
            log.error("retention: %s skipped: %s", kind, error)

    for programme in programmes:
        drop(agreement.KIND, programme.retention_days["agreement"], programme=programme.id)
        drop(feedback.EVALUATION, programme.retention_days["feedback"], programme=programme.id)
    longest = max((p.retention_days["feedback"] for p in programmes), default=365)
    drop(feedback.PAGE_FEEDBACK, longest)
    drop(mail.KIND, SENT_MAIL_KEPT.days, status=(mail.Status.SENT, mail.Status.FAILED))
    drop(agreement.DRAFT_KIND, agreement.DRAFT_HOURS / 24)  # agreements being filled in, never sent
    deleted = {kind: n for kind, n in deleted.items() if n}
    log.info("retention: deleted %s", ", ".join(f"{n} {kind}" for kind, n in sorted(deleted.items())) or "nothing")
    return deleted


# -- state: heartbeat and when each cron job last ran -----------------------------------------------

def _state(name: str):
    """The stored state record ``name`` (made on first use)."""
    return store().add(STATE, key=name, language=current_app.config["DEFAULT_LANGUAGE"], programme=None,
                       status="active", data={})


def heartbeat(now: datetime | None = None) -> None:
    """Record that the scheduler runs, and how the outbox stands (read by /healthz and check-config)."""
    now = now or utcnow()
    outbox = store().list(mail.KIND, status=(mail.Status.QUEUED, mail.Status.FAILED))
    waiting = sum(1 for r in outbox if r.status == mail.Status.QUEUED)
    store().update(STATE, _state("heartbeat").id, now=now, data={
        "at": now.isoformat(), "pid": os.getpid(), "host": socket.gethostname(),
        "waiting": waiting, "failed": len(outbox) - waiting})


def status() -> dict:
    """When the scheduler last ran and how much mail waits or failed; no secrets, no content."""
    data = _state("heartbeat").data
    return {key: data.get(key) for key in ("at", "waiting", "failed")}


def _cron_jobs(app: Flask) -> list[tuple[str, CronTrigger, tuple]]:
    programmes = app.extensions["programmes"]
    zone = programmes.time_zone
    jobs = []
    for programme in programmes:
        weekday, at = programme.digest.split()
        hour, minute = at.split(":")
        trigger = CronTrigger(day_of_week=DAYS[weekday], hour=int(hour), minute=int(minute), timezone=zone)
        jobs.append((f"digest-{programme.id}", trigger, (feedback.digest, programme.id)))
    jobs.append(("purge", CronTrigger(hour=3, minute=30, timezone=zone), (purge,)))
    return jobs


def _run_cron(app: Flask, name: str, job, *args) -> None:
    with job_context(app):
        try:
            now = utcnow()
            job(*args, now=now) if args else job(now=now)
            store().update(STATE, _state(f"cron-{name}").id, data={"last_run": now.isoformat()}, now=now)
        except Exception as error:  # noqa: BLE001 - logged; the next run tries again
            log.error("scheduler: %s failed: %s", name, type(error).__name__)


def catch_up(app: Flask, now: datetime | None = None) -> list[str]:
    """Run once each cron job whose time came while no scheduler ran; returns their names."""
    now = now or utcnow()
    missed = []
    for name, trigger, (job, *args) in _cron_jobs(app):
        with job_context(app):
            last = _state(f"cron-{name}").data.get("last_run")
        if last is None:
            with job_context(app):
                store().update(STATE, _state(f"cron-{name}").id, data={"last_run": now.isoformat()}, now=now)
            continue  # a new deployment has nothing to make up
        due = trigger.get_next_fire_time(None, datetime.fromisoformat(last))
        if due is not None and due <= now:
            missed.append(name)
            _run_cron(app, name, job, *args)
    return missed


# -- the process ----------------------------------------------------------------------------------

def take_over(now: datetime | None = None) -> int:
    """For a process that has just taken the scheduler's lock: make what a stopped one had claimed
    (records of every area, messages in the outbox) due now instead of after its lease. A message
    it had handed to the SMTP server but not marked sent goes again, with the same Message-ID."""
    now = now or utcnow()
    released = {kind: store().release_claims(kind, now=now) for kind in (*(a.KIND for a in AREAS), mail.KIND)}
    if any(released.values()):
        log.warning("scheduler: claims of a stopped process released: %s",
                    ", ".join(f"{count} {kind}" for kind, count in released.items() if count))
        store().notify(mail.WAKE)
    return sum(released.values())


@contextmanager
def one_off():
    """For a command run by hand: hold the scheduler's lock while it works. Yields None when it
    holds the lock, or the active scheduler's holder text, after waking it to do the work now."""
    leader = store().leader("scheduler")
    if not leader.try_acquire():
        store().notify(mail.WAKE)
        yield leader.holder()
        return
    try:
        take_over()
        yield None
    finally:
        leader.release()


class Scheduler:
    """The active scheduler or a standby, until ``stop`` is called."""

    def __init__(self, app: Flask):
        self.app = app
        self.stopping = threading.Event()
        with app.app_context():
            self.leader = store().leader("scheduler")
        self.active = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        announced = False
        while not self.stopping.is_set():
            if not self.leader.try_acquire():
                if not announced:
                    log.info("scheduler: another scheduler is active; waiting as a standby")
                    announced = True
                self.stopping.wait(STANDBY_POLL_S)
                continue
            announced = False
            try:
                self._lead()
            finally:
                self.active.clear()
                self.leader.release()

    def _lead(self) -> None:
        app = self.app
        log.info("scheduler: active for %s (process %d)", app.instance_path, os.getpid())
        with job_context(app):
            try:
                reindex = getattr(store(), "reindex", None)
                if reindex:
                    reindex()
                take_over()
            except Exception as error:  # noqa: BLE001 - leading goes on; the leases still run out
                log.error("scheduler: could not take over at once: %s", type(error).__name__)
        catch_up(app)
        cron = BackgroundScheduler(timezone=app.extensions["programmes"].time_zone)
        for name, trigger, (job, *args) in _cron_jobs(app):
            cron.add_job(_run_cron, trigger, args=(app, name, job, *args), id=name, name=name,
                         max_instances=1, coalesce=True, misfire_grace_time=3600)
        cron.start()
        self.active.set()
        last_beat = None
        try:
            while not self.stopping.is_set() and self.leader.held():
                with job_context(app):
                    now = utcnow()
                    try:
                        run_due(now)
                        if last_beat is None or now - last_beat >= HEARTBEAT_EVERY:
                            heartbeat(now)
                            last_beat = now
                    except Exception as error:  # noqa: BLE001 - the loop must outlive any one run
                        log.error("scheduler: run failed: %s", type(error).__name__)
                    store().wait(mail.WAKE, RUN_EVERY_S)
        finally:
            cron.shutdown(wait=False)


def start_in_background(app: Flask) -> Scheduler:
    """For the development server: the scheduler (or a standby) in a thread of the web process."""
    scheduler = Scheduler(app)
    threading.Thread(target=scheduler.run, name="scheduler", daemon=True).start()
    return scheduler


def run_forever(app: Flask) -> None:
    """For production: the scheduler as a process of its own, until SIGTERM or Ctrl+C."""
    import signal

    scheduler = Scheduler(app)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    try:
        scheduler.run()
    except KeyboardInterrupt:
        scheduler.stop()
