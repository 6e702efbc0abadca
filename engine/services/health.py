"""What `/healthz` and `/readyz` answer, and the admin page's scheduler panel.

Liveness is the process answering at all. Readiness is what a load balancer needs before
it sends traffic: the database answers, its schema is at the revision this code expects
(an upgrade not yet run would fail every request), and, when this deployment runs the
scheduler (`contractflow serve` without `--no-scheduler`), the Prefect server answers and
the flow runner is alive. The scheduler's supervisor (flows.supervisor) writes its state to
`<data_dir>/prefect/scheduler.json`; reading that file keeps this layer free of Prefect and
works from every uvicorn worker process.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from engine.services.runtime import Runtime

STATE_FILE = "scheduler.json"
#: A state file whose heartbeat is older than this many heartbeats: its supervisor is hung.
STALE_HEARTBEATS = 6


@dataclass
class Readiness:
    ready: bool
    checks: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # a zombie is dead for our purposes
        try:
            return stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"
        except OSError:
            return False
    return True


def scheduler_state(rt: Runtime) -> dict[str, Any] | None:
    """The live supervisor's state, or None when no scheduler runs for this data folder."""
    path = (Path(rt.settings.data_dir) / "prefect" / STATE_FILE).resolve()
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not _pid_alive(state.get("owner_pid")):
        return None  # left behind by a serve that was killed: nobody schedules
    return state


def scheduler_problems(state: dict[str, Any], now: dt.datetime) -> list[str]:
    problems = []
    try:
        updated = dt.datetime.fromisoformat(str(state.get("updated")))
        heartbeat = float(state.get("heartbeat_seconds") or 5)
        if (now - updated).total_seconds() > heartbeat * STALE_HEARTBEATS:
            problems.append(f"scheduler: the supervisor has not reported since {updated}")
    except ValueError:
        problems.append("scheduler: unreadable state")
    for key, child in (state.get("children") or {}).items():
        label = child.get("label", key)
        if child.get("state") != "running":
            last = child.get("last_exit")
            exit_note = f", last exit code {last}" if last is not None else ""
            problems.append(
                f"scheduler: the {label} is {child.get('state')} "
                f"(restarts {child.get('restarts', 0)}{exit_note})"
            )
        elif not _pid_alive(child.get("pid")):
            problems.append(f"scheduler: the {label} (pid {child.get('pid')}) is not running")
    return problems


def _prefect_answers(api_url: str) -> str | None:
    import httpx

    try:
        response = httpx.get(f"{api_url}/health", timeout=2)
    except httpx.HTTPError as exc:
        return f"scheduler: the Prefect server at {api_url} does not answer ({type(exc).__name__})"
    if response.status_code != 200:
        return f"scheduler: the Prefect server at {api_url} answered {response.status_code}"
    return None


def scheduler_summary(rt: Runtime) -> dict[str, Any]:
    """`{"status": "off"|"ok"|"failing", "ui_url", "children": [...], "problems": [...]}`
    for the admin page; the same checks as `/readyz`."""
    state = scheduler_state(rt)
    if state is None:
        return {"status": "off", "ui_url": None, "children": [], "problems": []}
    problems = scheduler_problems(state, dt.datetime.now(dt.UTC))
    if not problems and state.get("api_url"):
        down = _prefect_answers(str(state["api_url"]))
        problems += [down] if down else []
    children = [{"key": k, **v} for k, v in (state.get("children") or {}).items()]
    return {
        "status": "failing" if problems else "ok",
        "ui_url": state.get("ui_url"),
        "children": children,
        "problems": problems,
    }


def readiness(rt: Runtime) -> Readiness:
    from engine.store.migrate import current_revision, head_revision

    result = Readiness(ready=True)
    try:
        with rt.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        result.checks["database"] = "ok"
        current, head = current_revision(rt.db), head_revision()
        result.checks["schema"] = {"current": current, "expected": head}
        if current != head:
            result.problems.append(
                f"schema: the database is at revision {current or 'none'}, this code needs "
                f"{head} (run `contractflow db upgrade`)"
            )
    except Exception as exc:  # any failure to talk to it is "not ready"
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        result.checks["database"] = "unavailable"
        result.problems.append(f"database: {first[0] if first else type(exc).__name__}")
    summary = scheduler_summary(rt)
    if summary["status"] == "off":
        result.checks["scheduler"] = "off"
    else:
        result.checks["scheduler"] = {
            "status": summary["status"],
            "ui_url": summary["ui_url"],
            "children": {c["key"]: c for c in summary["children"]},
        }
        result.problems += summary["problems"]
    result.ready = not result.problems
    return result
