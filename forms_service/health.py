"""``GET /healthz``: whether the service can read its storage, when the scheduler last ran and
how much mail waits or failed, for monitoring. No secrets and no content: counts and times only.

The answer is 200 while the storage can be read (so a load balancer keeps the server in
rotation) and 503 when it cannot; ``status`` says ``attention`` when the scheduler has not run
for five minutes, mail has failed or stored data was damaged.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, jsonify

from . import scheduler
from .storage import StorageUnavailable, store, utcnow

bp = Blueprint("health", __name__)
SCHEDULER_LATE = timedelta(minutes=5)


@bp.get("/healthz")
def healthz():
    try:
        problems = store().problems()
        state = scheduler.status()
    except StorageUnavailable:
        return jsonify(status="down", storage="unavailable"), 503, {"Cache-Control": "no-store"}
    last = datetime.fromisoformat(state["at"]) if state["at"] else None
    age = int((utcnow() - last).total_seconds()) if last else None
    attention = last is None or utcnow() - last > SCHEDULER_LATE or bool(state["failed"]) or bool(problems)
    return jsonify(
        status="attention" if attention else "ok",
        storage={"backend": type(store()).__name__, "problems": len(problems)},
        scheduler={"last_run": state["at"], "seconds_ago": age},
        outbox={"waiting": state["waiting"] or 0, "failed": state["failed"] or 0},
    ), 200, {"Cache-Control": "no-store"}
