"""Workflow commands: submit, revise, tasks, act, show, obligations, workflows, audit,
delegate, reassign, escalate (SPEC section 4; docs/workflows.md)."""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.cli.common import (
    AsUserOpt,
    DateOpt,
    FormatOpt,
    NoUserOpt,
    OutputFormat,
    acting_as,
    acting_user,
    emit,
    fail,
    money,
    parse_date,
    print_table,
    require_visible,
    row_id,
    runtime,
    safe_text,
    to_jsonable,
)
from engine.domain.wording import field_words, words

if TYPE_CHECKING:
    from engine.domain.views import ContractView

CommentOpt = Annotated[
    str | None, typer.Option("--comment", "-m", help="why (required for reject, request_changes)")
]
NoteOpt = Annotated[str | None, typer.Option("--comment", "-m", help="a note kept in the history")]
WaiveReasonOpt = Annotated[
    str | None, typer.Option("--comment", "-m", help="why it is no longer required (required)")
]
ReassignReasonOpt = Annotated[
    str | None, typer.Option("--comment", "-m", help="why it moves (kept in the history)")
]


class Action(StrEnum):
    """What `act` may do to a task (the workflow's decisions)."""

    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.command("revise")(revise)
    app.command("tasks")(tasks)
    app.command("act")(act)
    app.command("show")(show)
    app.command("delegate")(delegate)
    app.command("delegations")(delegations)
    app.command("reassign")(reassign)
    app.command("escalate")(escalate)
    app.command("amend")(amend)
    app.command("renew")(renew)
    app.command("terminate")(terminate)
    app.command("withdraw")(withdraw)

    obligations_app = typer.Typer(help="Obligation fulfilment.", no_args_is_help=True)
    obligations_app.command("fulfil")(fulfil)
    obligations_app.command("waive")(waive)
    obligations_app.command("revert")(revert)
    app.add_typer(obligations_app, name="obligations")

    workflows_app = typer.Typer(help="Workflow definitions.", no_args_is_help=True)
    workflows_app.command("validate")(workflows_validate)
    workflows_app.command("load")(workflows_load)
    workflows_app.command("list")(workflows_list)
    workflows_app.command("fields")(workflows_fields)
    app.add_typer(workflows_app, name="workflows")

    audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
    audit_app.command("verify")(audit_verify)
    app.add_typer(audit_app, name="audit")


# --------------------------------------------------------------------------- rendering


def _minute(value: object) -> str:
    """2027-01-04T09:00:00.123+00:00 -> 2027-01-04 17:00 in `CONTRACTFLOW_TIMEZONE` (tables;
    JSON keeps full precision, in UTC)."""
    import datetime as dt

    from engine.settings import get_settings

    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(get_settings().zone).strftime("%Y-%m-%d %H:%M")
    text = str(to_jsonable(value) or "")
    return text[:16].replace("T", " ")


def _note(entry: Any) -> str:
    """The part of an event's details a reader wants in one line."""
    details = entry.details or {}
    notes = []
    if "obligation" in details:
        notes.append(
            f"{details['obligation']} {details.get('status', '')} {details.get('on') or ''}"
        )
    if entry.action == "reassign":
        notes.append(f"to {details.get('to')}")
    if entry.action == "escalate":
        notes.append(f"to {details.get('escalate_to')}")
    if details.get("changed"):
        notes.append("changed " + "; ".join(field_words(f) for f in details["changed"]))
    for move in details.get("moves", []):
        if move.get("route"):
            notes.append(f"route {move['route']}")
    if entry.comment:
        notes.append(f'"{entry.comment}"')
    return "; ".join(n.strip() for n in notes)


def _print_contract(view: ContractView) -> None:
    out = sys.stdout
    out.write(safe_text(f"{view.id}  {view.title}") + "\n")
    out.write(
        f"stage {words(view.stage)} ({view.status}) - workflow {view.workflow}"
        f" v{view.workflow_version} - revision {view.revision}"
        f" - max severity {view.max_severity}\n"
    )
    out.write(
        safe_text(
            f"{view.direction} {money(view.amount)} {view.currency} with {view.counterparty}"
            f" - owner {view.owner}, submitted by {view.submitted_by}"
        )
        + "\n"
    )
    for warning in view.warnings:
        out.write(f"warning: {warning.line()}\n")
    if view.flags:
        print_table(
            [to_jsonable(f) for f in view.flags],
            ["severity", "category", "rule", "subject", "message"],
            title="Risk flags",
        )
    if view.tasks:
        rows = [
            {
                **to_jsonable(t),
                "stage": words(t.stage),
                "role": words(t.role),
                "status": words(t.status),
                "approved_by": ", ".join(t.approved_by),
                "due": _minute(t.due) + (" OVERDUE" if t.overdue else ""),
            }
            for t in view.tasks
            if t.revision == view.revision or t.status == "open"
        ]
        print_table(
            rows,
            ["id", "stage", "role", "status", "assignee", "due", "approved_by", "comment"],
            title="Tasks",
        )
    if view.obligations:
        print_table(
            [
                {**to_jsonable(o), "party": words(o.party), "status": words(o.status)}
                for o in view.obligations
            ],
            ["id", "party", "kind", "due", "amount", "status", "fulfilled_on", "description"],
            title="Obligations",
        )
    if len(view.revisions) > 1:
        rows = [
            {
                "revision": r.number,
                "by": r.submitted_by,
                "at": _minute(r.submitted_at),
                "changed": "; ".join(field_words(c.field) for c in r.changes) or "-",
            }
            for r in view.revisions
        ]
        print_table(rows, ["revision", "by", "at", "changed"], title="Revisions")
    if view.history:
        rows = [
            {
                **to_jsonable(h),
                "action": words(h.action),
                "at": _minute(h.at),
                "note": _note(h),
                "actor": h.actor if not h.on_behalf_of else f"{h.actor} for {h.on_behalf_of}",
                "stage": f"{words(h.from_stage)} -> {words(h.to_stage)}"
                if h.from_stage != h.to_stage
                else words(h.to_stage),
            }
            for h in view.history
        ]
        print_table(
            rows, ["seq", "at", "action", "actor", "task", "stage", "note"], title="History"
        )
    _print_after_signing(view)


def _print_after_signing(view: ContractView) -> None:
    out = sys.stdout
    if view.renews or view.renewed_by or view.terminated_on:
        links = [
            f"renews {view.renews}" if view.renews else "",
            f"renewed by {view.renewed_by}" if view.renewed_by else "",
            f"terminated on {view.terminated_on}" if view.terminated_on else "",
        ]
        out.write(" - ".join(x for x in links if x) + "\n")
    if view.amendments:
        print_table(
            [
                {
                    "number": a.number,
                    "status": a.status,
                    "stage": a.stage,
                    "reason": a.reason,
                    "changes": ", ".join(c.field for c in a.changes),
                    "revision": a.revision or "",
                }
                for a in view.amendments
            ],
            ["number", "status", "stage", "reason", "changes", "revision"],
            title="Amendments",
        )


def _emit_contract(view: ContractView, fmt: OutputFormat) -> None:
    emit(view, fmt, table=_print_contract)


# --------------------------------------------------------------------------- commands


def submit(
    file: Annotated[
        Path, typer.Argument(help="contract file (.yaml, .yml, .json or a .docx draft)")
    ],
    workflow: Annotated[
        str | None, typer.Option("--workflow", help="workflow name (default: standard)")
    ] = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Store a draft and submit it into its workflow (a known id submits a revision)."""
    from engine.services.lifecycle import submit as do_submit

    user = acting_user(as_user)
    with runtime() as rt:
        view = do_submit(rt, file, user, workflow=workflow)
    _emit_contract(view, fmt)


def revise(
    contract: Annotated[str, typer.Argument(help="contract id, e.g. SC-2026-0042")],
    file: Annotated[Path, typer.Argument(help="the revised contract file")],
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Store a revised draft of a contract sent back for changes, and resubmit it."""
    from engine.services.lifecycle import revise as do_revise

    user = acting_user(as_user)
    with runtime() as rt:
        view = do_revise(rt, contract, file, user)
    _emit_contract(view, fmt)


def tasks(
    all_: Annotated[bool, typer.Option("--all", help="every open task, not just yours")] = False,
    # The defaults are engine.services.views.TASKS_PAGE / TASKS_PAGE_MAX (not imported
    # here, so that `contractflow --help` stays fast).
    limit: Annotated[
        int, typer.Option("--limit", help="tasks to show (at most 1000)", min=1, max=1000)
    ] = 100,
    offset: Annotated[
        int, typer.Option("--offset", help="tasks to skip (the next page)", min=0, max=10_000_000)
    ] = 0,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Your open tasks (by role, assignment or delegation), overdue first, 100 at a time.

    When there are more, a line on standard error gives the --offset of the next page.
    """
    from engine.services.views import list_tasks

    with runtime() as rt:
        if all_:
            who = acting_as(rt, as_user)
            if who is not None:  # as on the web: every task is for admins and managers
                from engine.services.access import require_all_tasks

                require_all_tasks(who)
            user = None
        else:
            user = acting_as(rt, acting_user(as_user)).username
        views = list_tasks(rt, user, all_tasks=all_, limit=limit + 1, offset=offset)
    more = len(views) > limit
    views = views[:limit]
    if more:
        typer.echo(f"more tasks: next page with --offset {offset + limit}", err=True)
    if fmt is OutputFormat.JSON:
        emit(views, fmt)
        return
    if not views:
        typer.echo("no open tasks")
        return
    for v in views:
        if v.kind == "revise":  # handed back to you: one line each, in words
            typer.echo(f"{v.summary}  [task {v.id}]")
    rows = [
        {
            **to_jsonable(v),
            "stage": words(v.stage),
            "role": words(v.role),
            "due": _minute(v.due) + (" OVERDUE" if v.overdue else ""),
            "approvals": f"{len(v.approved_by)}/{v.approvals_required}",
        }
        for v in views
        if v.kind != "revise"
    ]
    if not rows:
        return
    print_table(
        rows,
        ["id", "contract", "contract_title", "stage", "role", "assignee", "due", "approvals"],
    )


def act(
    task: Annotated[int, typer.Argument(help="task id (see `contractflow tasks`)")],
    action: Annotated[Action, typer.Argument(help="what to do with the task")],
    comment: CommentOpt = None,
    on_behalf_of: Annotated[
        str | None,
        typer.Option("--on-behalf-of", help="act for a colleague who delegated to you"),
    ] = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Approve, reject or request changes on a task."""
    from engine.services.lifecycle import act as do_act

    user = acting_user(as_user)
    with runtime() as rt:
        view = do_act(
            rt, row_id(task, "task"), action.value, user, comment=comment, on_behalf_of=on_behalf_of
        )
    _emit_contract(view, fmt)


def show(
    contract: Annotated[str, typer.Argument(help="contract id")],
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """One contract: stage, flags, tasks, obligations, revisions and history (with --as:
    only a contract that user may see, as in the web app)."""
    from engine.services.views import show as do_show

    with runtime() as rt:
        require_visible(rt, acting_as(rt, as_user), contract)
        view = do_show(rt, contract)
    _emit_contract(view, fmt)


ReasonOpt = Annotated[str, typer.Option("--reason", help="why (kept in the audit trail)")]


def amend(
    contract: Annotated[str, typer.Argument(help="contract id, e.g. SC-2026-0042")],
    file: Annotated[Path, typer.Argument(help="the amended contract file (all its terms)")],
    reason: ReasonOpt,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Open an amendment of a signed contract: the changed terms go through the
    `amendment` workflow while the contract stays in fulfilment (docs/lifecycle.md)."""
    from engine.services.lifecycle import amend as do_amend

    user = acting_user(as_user)
    with runtime() as rt:
        view = do_amend(rt, contract, file, reason, user)
    _emit_contract(view, fmt)


def renew(
    contract: Annotated[str, typer.Argument(help="contract id")],
    file: Annotated[
        Path | None, typer.Argument(help="the successor's terms (default: the same terms)")
    ] = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Submit the successor of a signed contract (default: same terms, next period)."""
    from engine.services.lifecycle import renew as do_renew

    user = acting_user(as_user)
    with runtime() as rt:
        view = do_renew(rt, contract, user, file)
    _emit_contract(view, fmt)


def terminate(
    contract: Annotated[str, typer.Argument(help="contract id")],
    reason: ReasonOpt,
    on: DateOpt = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """End an active contract: status terminated, open tasks cancelled, no more alerts."""
    from engine.services.lifecycle import terminate as do_terminate

    user = acting_user(as_user)
    day = parse_date(on, "--on")
    with runtime() as rt:
        view = do_terminate(rt, contract, reason, user, on=day)
    _emit_contract(view, fmt)


def fulfil(
    contract: Annotated[str, typer.Argument(help="contract id")],
    obligation: Annotated[str, typer.Argument(help="obligation id, e.g. OB-1")],
    on: DateOpt = None,
    comment: NoteOpt = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="accept an --on before the contract's start (needs --comment)"
        ),
    ] = False,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Record that an obligation was fulfilled (default: today; never a future date).

    Only while the contract is in a stage that tracks obligations (it is signed).
    """
    from engine.services.lifecycle import fulfil_obligation

    user = acting_user(as_user)
    day = parse_date(on, "--on")
    with runtime() as rt:
        view = fulfil_obligation(
            rt, contract, obligation, user, on=day, comment=comment, force=force
        )
    _emit_contract(view, fmt)


def revert(
    contract: Annotated[str, typer.Argument(help="contract id")],
    obligation: Annotated[str, typer.Argument(help="obligation id")],
    reason: Annotated[str, typer.Option("--reason", help="why the record was wrong")],
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Undo a fulfilment or waiver recorded by mistake: the obligation is open again."""
    from engine.services.lifecycle import revert_obligation

    user = acting_user(as_user)
    with runtime() as rt:
        view = revert_obligation(rt, contract, obligation, user, reason)
    _emit_contract(view, fmt)


def withdraw(
    contract: Annotated[str, typer.Argument(help="contract id")],
    reason: Annotated[str, typer.Option("--reason", help="why it is withdrawn")],
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Withdraw a contract that is not yet signed (owner, submitter or admin): status
    `withdrawn`, open tasks cancelled, its queued alerts cancelled. Exit 1 once signed."""
    from engine.services.lifecycle import withdraw as do_withdraw

    user = acting_user(as_user)
    with runtime() as rt:
        view = do_withdraw(rt, contract, user, reason)
    _emit_contract(view, fmt)


def waive(
    contract: Annotated[str, typer.Argument(help="contract id")],
    obligation: Annotated[str, typer.Argument(help="obligation id")],
    comment: WaiveReasonOpt = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Record that an obligation is no longer required (needs --comment)."""
    from engine.services.lifecycle import waive_obligation

    user = acting_user(as_user)
    with runtime() as rt:
        view = waive_obligation(rt, contract, obligation, user, comment=comment)
    _emit_contract(view, fmt)


def delegate(
    to_user: Annotated[str, typer.Argument(help="the colleague who acts for you")],
    from_: Annotated[dt.datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first day")],
    until: Annotated[dt.datetime, typer.Option("--until", formats=["%Y-%m-%d"], help="last day")],
    for_user: Annotated[
        str | None, typer.Option("--for", help="delegate someone else's tasks (admin)")
    ] = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Out of office: let a colleague with the same role act on your tasks for a while."""
    from engine.services.lifecycle import delegate as do_delegate

    user = acting_user(as_user)
    starts, ends = from_.date(), until.date()
    with runtime() as rt:
        view = do_delegate(rt, user, to_user, starts, ends, from_user=for_user)
    emit(view, fmt)


def delegations(
    user: Annotated[
        str | None, typer.Option("--user", help="only those given by or to USER")
    ] = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Delegations, newest first (with --as: an admin sees all, others their own)."""
    from engine.services.lifecycle import list_delegations

    with runtime() as rt:
        who = acting_as(rt, as_user)
        if who is not None and not who.has("admin"):
            if user not in (None, who.username):
                from engine.errors import Forbidden

                raise Forbidden(f"{who.username} may list only their own delegations")
            user = who.username
        views = list_delegations(rt, user)
    emit(views, fmt, columns=["id", "from_user", "to_user", "starts_on", "ends_on"])


def reassign(
    task: Annotated[int, typer.Argument(help="task id")],
    to_user: Annotated[str, typer.Argument(help="a user holding the task's role")],
    comment: ReassignReasonOpt = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Give an open task to one person (admin or contract_manager)."""
    from engine.services.lifecycle import reassign as do_reassign

    user = acting_user(as_user)
    with runtime() as rt:
        view = do_reassign(rt, row_id(task, "task"), to_user, user, comment=comment)
    _emit_contract(view, fmt)


def escalate(as_user: NoUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Escalate overdue tasks now (the scheduler does this every hour)."""
    from engine.services.sla import escalate_overdue_tasks

    with runtime() as rt:
        count = escalate_overdue_tasks(rt)
    emit({"escalated": count}, fmt)


def workflows_validate(
    files: Annotated[list[Path], typer.Argument(help="workflow files (.yaml)")],
    as_user: NoUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Check workflow files; store nothing. Exit 2 with `file:line: message` lines."""
    from engine.services.workflows import validate_files

    errors = validate_files(files)
    if fmt is OutputFormat.JSON:
        emit({"valid": not errors, "errors": errors}, fmt)
        if errors:
            raise typer.Exit(2)
        return
    if errors:
        fail(errors)
    typer.echo(f"{len(files)} workflow file(s) valid")


def workflows_load(
    files: Annotated[list[Path], typer.Argument(help="workflow files (.yaml)")],
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Validate and store workflow versions (a changed definition needs a new version;
    with --as: an admin's job, as in the web app)."""
    from engine.services.workflows import load_files

    with runtime() as rt:
        _require_admin_if_named(rt, as_user)
        loaded = load_files(rt, files)
    data: dict[str, Any] = {"loaded": loaded}
    emit(data, fmt, table=lambda d: print_table(d["loaded"], ["workflow", "version", "status"]))


def workflows_list(as_user: AsUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Stored workflow versions and how many contracts run on each (with --as: admins)."""
    from engine.services.workflows import list_workflows

    with runtime() as rt:
        _require_admin_if_named(rt, as_user)
        views = list_workflows(rt)
    emit(
        views,
        fmt,
        columns=["workflow", "version", "latest", "contracts", "active_contracts", "description"],
    )


def workflows_fields(as_user: NoUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """The fields a `when` condition may use, with their types."""
    from engine.expressions import export_vocabulary

    emit(export_vocabulary(), fmt, columns=["field", "type", "values", "description"])


def audit_verify(
    contract: Annotated[str | None, typer.Argument(help="one contract (default: all)")] = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Check the audit trail's keyed hash chains and what they pin; exit 1 when an event
    was changed, removed or moved (with --as: a contract that user may see; the whole
    trail for those who see every contract)."""
    from engine.services.audit import verify

    with runtime() as rt:
        who = acting_as(rt, as_user)
        if who is not None and contract is None:
            from engine.services.access import require_see_all

            require_see_all(who)
        if contract is not None:
            require_visible(rt, who, contract)
        report = verify(rt, contract)
    if fmt is OutputFormat.JSON:
        emit(report, fmt)
    elif report.verified:
        typer.echo(
            f"audit trail intact: {report.events} event(s) in {report.contracts} contract(s)"
        )
    else:
        for line in report.problems:
            sys.stderr.write(f"error: {line}\n")
    if not report.verified:
        raise typer.Exit(1)


def _require_admin_if_named(rt: Any, as_user: str | None) -> None:
    who = acting_as(rt, as_user)
    if who is not None:
        from engine.services.access import require_admin

        require_admin(who)
