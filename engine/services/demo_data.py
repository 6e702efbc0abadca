"""Example data for `make demo`: the shipped example contracts, moved along their workflows
so that every reviewer's inbox and the dashboard have something to show.

Everything goes through the same services as the command line (submit, act, fulfil,
delegate), so the demo is also a smoke test of them. Idempotent: a contract that already
exists is left as it is.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, NamedTuple

from engine.errors import NotFound
from engine.services import lifecycle
from engine.services.contracts import read_contract
from engine.services.runtime import Runtime
from engine.services.views import get_contract_row, show


def _exists(rt: Runtime, code: str) -> bool:
    with rt.db.sessions() as session:
        try:
            get_contract_row(session, code)
        except NotFound:
            return False
    return True


def _task(rt: Runtime, code: str, role: str) -> int | None:
    return next((t.id for t in show(rt, code).tasks if t.role == role and t.status == "open"), None)


def _approve(rt: Runtime, code: str, role: str, user: str, comment: str) -> None:
    task = _task(rt, code, role)
    if task is not None:
        lifecycle.act(rt, task, "approve", user, comment)


def _fulfil_all(rt: Runtime, code: str, user: str) -> None:
    view = show(rt, code)
    start = dt.date.fromisoformat(str(view.terms["start_date"]))
    for ob in view.obligations:
        if ob.status == "open":
            on = min(ob.due, rt.today())  # never in the future
            early = on < start  # the demo may run before the pilot's start date
            lifecycle.fulfil_obligation(
                rt,
                code,
                ob.id,
                user,
                on=on,
                comment="settled in advance (demo data)" if early else None,
                force=early,
            )


class Plan(NamedTuple):
    """One demo contract: which example, under which id, and how far to move it."""

    filename: str
    code: str
    changes: dict[str, Any]
    workflow: str | None
    approvals: list[tuple[str, str, str]]  # (role, user, comment), in order
    fulfil: bool = False


PLANS = [
    # waits for legal (lena, leo) and finance (fei)
    Plan("SC-2026-0042.yaml", "SC-2026-0042", {}, None, []),
    # legal and finance approve; the high risk routes it to the risk officer (rita)
    Plan(
        "SC-2026-0051.yaml",
        "SC-2026-0051",
        {},
        None,
        [
            ("legal", "lena", "Terms read; the risk officer should decide."),
            ("finance", "fei", "Exposure noted."),
        ],
    ),
    # legal approves; waits for the signer (sam)
    Plan(
        "SC-2026-0060.json",
        "SC-2026-0060",
        {},
        None,
        [("legal", "lena", "Standard maintenance terms.")],
    ),
    # the purchase workflow: waits for procurement (paul)
    Plan("PO-2026-0107.yaml", "PO-2026-0107", {}, "purchase", []),
    # a sibling of SC-2026-0060 taken through signing and fulfilment to its evaluation (alice)
    Plan(
        "SC-2026-0060.json",
        "SC-2026-0063",
        {"id": "SC-2026-0063", "title": "Maintenance of the bottling line (pilot)"},
        None,
        [("legal", "lena", "Same terms as SC-2026-0060."), ("signer", "sam", "Signed.")],
        fulfil=True,
    ),
]


def load_demo_contracts(rt: Runtime, examples: Path, submitter: str = "alice") -> list[str]:
    """Submit the examples and move them along; returns the codes that were added."""
    rt.evaluator  # noqa: B018 - load the rules before the first submit's transaction
    added: list[str] = []
    for plan in PLANS:
        if _exists(rt, plan.code):
            continue
        contract = read_contract(rt, examples / plan.filename)
        if plan.changes:
            contract = contract.model_copy(update=plan.changes)
        lifecycle.submit_contract(
            rt, contract, submitter, workflow=plan.workflow, source=plan.filename
        )
        for role, user, comment in plan.approvals:
            _approve(rt, plan.code, role, user, comment)
        if plan.fulfil:
            _fulfil_all(rt, plan.code, submitter)
        added.append(plan.code)
    return added
