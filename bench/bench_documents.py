"""Issue 7: what documents cost. Rendering a contract to .docx and reading a .docx draft
back, per contract, against the baseline of reading the same contract from YAML; the
upload safety checks alone; and the bytes each kept revision adds to the `documents` table.

Sizes: every example contract, repeated (200 rounds; 20 in quick mode). Then the share of
a `submit` (SQLite, python risk backend) that keeping the revision's document costs: 60
submits (10 in quick mode) of distinct contracts, against rendering the same contracts.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.measure import load, ms, percentile, ratio, table
from bench.report import machine


def _times(fn: Callable[[], object], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def run() -> str:
    from bench import dataset
    from engine.definitions.contracts import load_contract_file
    from engine.documents.intake import extract_contract
    from engine.documents.render import render_contract
    from engine.documents.safety import check_docx
    from engine.documents.templates import load_company, load_template
    from engine.settings import PROJECT_ROOT

    rounds = 20 if dataset.quick() else 200
    templates = PROJECT_ROOT / "templates"
    company = load_company(templates)
    files = sorted((PROJECT_ROOT / "examples").glob("*.*"))
    contracts = [load_contract_file(f) for f in files]
    rendered = []
    for c in contracts:
        tpl = load_template(templates, "sales" if c.direction.value == "sell" else "purchase")
        rendered.append((c, tpl, render_contract(c, tpl, company, revision=1)))

    yaml_t: list[float] = []
    render_t: list[float] = []
    check_t: list[float] = []
    extract_t: list[float] = []
    for f, (c, tpl, content) in zip(files, rendered, strict=True):
        yaml_t += _times(lambda f=f: load_contract_file(f), rounds)
        render_t += _times(
            lambda c=c, tpl=tpl: render_contract(c, tpl, company, revision=1), rounds
        )
        check_t += _times(lambda content=content: check_docx(content, "d.docx"), rounds)
        extract_t += _times(lambda content=content: extract_contract(content, "d.docx"), rounds)
    base = percentile(yaml_t, 50)
    rows = [
        [name, ms(percentile(t, 50)), ms(percentile(t, 95)), ratio(percentile(t, 50), base)]
        for name, t in (
            ("read contract from YAML (baseline)", yaml_t),
            ("render contract to .docx", render_t),
            ("safety checks on a .docx upload", check_t),
            ("read contract from .docx (checks + tables)", extract_t),
        )
    ]
    sizes = [len(content) for _c, _t, content in rendered]
    submit_t, submit_render_t = _submits(10 if dataset.quick() else 60)
    rows.append(
        [
            "submit through the service (SQLite), document kept",
            ms(percentile(submit_t, 50)),
            ms(percentile(submit_t, 95)),
            ratio(percentile(submit_t, 50), base),
        ]
    )
    rows.append(
        [
            "of which: render the revision's document",
            ms(percentile(submit_render_t, 50)),
            ms(percentile(submit_render_t, 95)),
            ratio(percentile(submit_render_t, 50), base),
        ]
    )
    return "\n".join(
        [
            "## Documents (issue 7)",
            "",
            f"Machine: {machine()}; load {load()}. {len(files)} example contracts x {rounds} rounds.",
            "",
            table(["operation", "p50 ms", "p95 ms", "p50 vs YAML"], rows),
            "",
            f"A kept revision document is {min(sizes) // 1024}-{max(sizes) // 1024} KB "
            "(the `documents` table grows by that much per submitted revision).",
        ]
    )


def _submits(count: int) -> tuple[list[float], list[float]]:
    """Submit `count` distinct contracts; time each submit and the rendering inside it."""
    import tempfile
    from pathlib import Path

    from engine.definitions.contracts import load_contract_file
    from engine.services import documents, lifecycle
    from engine.services.runtime import Runtime
    from engine.services.setup import initialise
    from engine.services.users import add_user
    from engine.settings import PROJECT_ROOT, Settings

    base = load_contract_file(PROJECT_ROOT / "examples" / "SC-2026-0060.json")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            data_dir=Path(tmp) / "data",
            risk_backend="python",
        )
        rt = Runtime(settings)
        try:
            initialise(rt)
            add_user(rt, "alice", ["contract_admin"])
            warm = base.model_copy(update={"id": "SC-BENCH-WARM"})
            lifecycle.submit_contract(rt, warm, "alice", source="bench")  # loads rules etc.
            submit_t: list[float] = []
            render_t: list[float] = []
            for i in range(count):
                contract = base.model_copy(update={"id": f"SC-BENCH-{i:05d}"})
                start = time.perf_counter()
                lifecycle.submit_contract(rt, contract, "alice", source="bench")
                submit_t.append(time.perf_counter() - start)
                start = time.perf_counter()
                documents.render(rt, contract, revision=1)
                render_t.append(time.perf_counter() - start)
        finally:
            rt.close()
    return submit_t, render_t
