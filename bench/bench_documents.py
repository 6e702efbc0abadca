"""Issue 7: what documents cost. Rendering a contract to .docx and reading a .docx draft
back, per contract, against the baseline of reading the same contract from YAML; the
upload safety checks alone; and the bytes each kept revision adds to the `documents` table.

Sizes: every example contract, repeated (200 rounds; 20 in quick mode).
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
        render_t += _times(lambda c=c, tpl=tpl: render_contract(c, tpl, company, revision=1), rounds)
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
