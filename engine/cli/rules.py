"""`contractflow rules check | test | list | rescore` (docs/rules.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.common import (
    DateOpt,
    FormatOpt,
    NoUserOpt,
    OutputFormat,
    emit,
    parse_date,
    runtime,
)

SEVERITY_CHOICES = ("low", "medium", "high", "critical")


def register(app: typer.Typer) -> None:
    rules_app = typer.Typer(help="Risk rules: check a contract, run examples, re-score.")
    rules_app.command("check")(check)
    rules_app.command("test")(test)
    rules_app.command("list")(list_)
    rules_app.command("rescore")(rescore)
    rules_app.command("whatif")(whatif)
    app.add_typer(rules_app, name="rules", no_args_is_help=True)


def check(
    file: Annotated[Path, typer.Argument(help="a contract file (.yaml, .yml, .json or .docx)")],
    as_of: DateOpt = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="override a threshold for this check: NAME=VALUE"),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on", help="exit 1 when a flag is at least this severe", metavar="SEVERITY"
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="for every rule: fired, or which test failed")
    ] = False,
    as_user: NoUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Evaluate one contract file with the rules in force; stores nothing."""
    from engine.domain.risk import Severity
    from engine.services.rules import check_file, parse_params

    if fail_on is not None and fail_on not in SEVERITY_CHOICES:
        raise typer.BadParameter(
            f"{fail_on!r} is not one of {', '.join(SEVERITY_CHOICES)}", param_hint="--fail-on"
        )
    day = parse_date(as_of, "--as-of")
    params = parse_params(param or [])
    with runtime() as rt:
        result = check_file(rt, file, day, params, explain=explain)
    emit(result, fmt, table=_check_table)
    if fail_on is not None and Severity(result["max_severity"]) >= Severity(fail_on):
        raise typer.Exit(1)


def _check_table(result: dict[str, Any]) -> None:
    from engine.cli.common import print_table, safe_text

    typer.echo(
        f"{safe_text(result['contract'] or '(no id)')} as of {result['as_of']}: "
        f"max severity {result['max_severity']}"
    )
    if result["flags"]:
        print_table(result["flags"], ["severity", "rule", "subject", "message"])
    if "rules" in result:
        for entry in result["rules"]:
            mark = "FIRED" if entry["fired"] else "no"
            typer.echo(f"{mark:5}  {entry['rule']}")
            for reason in entry["why_not"]:
                typer.echo(f"         {reason}")


def test(as_user: NoUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Run the examples that ship beside every rule (with the configured backend too)."""
    from engine.services.rules import folder_rules, merge_backend_runs, run_examples

    with runtime() as rt:
        rules = folder_rules(rt)
        runs = {"python": run_examples(rt, rules)}
        if rt.settings.risk_backend == "durable":
            from engine.risk.factory import make_evaluator

            durable = make_evaluator(rt.settings, rt.risk_config, rules)
            try:
                runs["durable"] = run_examples(rt, rules, durable)
            finally:
                durable.close()
        result = merge_backend_runs(runs)
    if fmt is OutputFormat.JSON:
        emit(result, fmt)
    else:
        for failure in result["failures"]:
            sys.stdout.write(
                f"FAIL {failure['where']}: {failure['rule']}: {failure['example']} "
                f"({failure['backend']}): {'; '.join(failure['problems'])}\n"
            )
        for note in result["notes"]:
            sys.stdout.write(f"NOTE {note}\n")
        for rule in result["rules_without_both_cases"]:
            sys.stdout.write(f"WARN {rule}: needs an example that fires and one that does not\n")
        sys.stdout.write(
            f"{result['examples']} examples: {result['passed']} passed, {result['failed']} failed\n"
        )
    if result["failed"]:
        raise typer.Exit(1)


def list_(as_user: NoUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """The rules in force: id, category, severity, parameters, description."""
    from engine.services.rules import list_rules

    with runtime() as rt:
        rules = list_rules(rt)
    emit(rules, fmt, columns=["id", "category", "severity", "parameters", "description"])


def rescore(
    as_of: DateOpt = None, as_user: NoUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE
) -> None:
    """Re-score every active contract as of a date; only changed flags are written."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from engine.services.rescore import rescore as run_rescore

    day = parse_date(as_of, "--as-of")
    with (
        runtime() as rt,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
            disable=not sys.stderr.isatty(),
            console=None,
        ) as bar,
    ):
        task = bar.add_task("re-scoring", total=None)
        result = run_rescore(
            rt, day, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    emit(result, fmt)
    if result["failed"]:  # the rest was scored and stored; these keep their old flags
        for line in result["failed"]:
            print(f"error: {line}", file=sys.stderr)
        raise SystemExit(1)


def whatif(
    rules_dir: Annotated[
        Path | None, typer.Option("--rules", help="a proposed rules folder", metavar="DIR")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="a proposed risk.yaml", metavar="FILE")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="a proposed threshold: NAME=VALUE (repeatable)"),
    ] = None,
    as_of: DateOpt = None,
    as_user: NoUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Re-score every active contract with a proposed change; stores nothing."""
    from engine.services.rules import parse_params
    from engine.services.whatif import whatif as run_whatif

    day = parse_date(as_of, "--as-of")
    params = parse_params(param or [])
    with runtime() as rt:
        result = run_whatif(rt, rules_dir=rules_dir, config_file=config, params=params, as_of=day)
    if fmt is OutputFormat.JSON:
        emit(result, fmt)
        return
    from engine.cli.common import print_table

    sys.stdout.write(
        f"{result['contracts']} active contracts as of {result['as_of']}: "
        f"{len(result['changed'])} would change, {len(result['would_route'])} would route "
        "differently\n"
    )
    if result["changed"]:
        print_table(result["changed"], ["id", "from", "to", "added", "removed"])
