"""`python -m bench [NAME...]`: run benchmarks and rewrite their sections of docs/benchmarks.md.

Each benchmark module exposes `run() -> str` returning its Markdown section (with the
numbers, the machine and the date); `bench.report.write_section` merges it into the file so
one benchmark can be re-run without losing the others.
"""

from __future__ import annotations

import importlib
import os
import sys

from bench.report import write_section

#: name -> module; each module has `run() -> str`.
BENCHMARKS: dict[str, str] = {
    "workflow": "bench.bench_workflow",
    "web": "bench.bench_web",
    "documents": "bench.bench_documents",
    "risk": "bench.bench_risk",
    "alerts": "bench.bench_alerts",
    "counterparties": "bench.bench_counterparties",
    "notices": "bench.bench_notices",
    "contract_list": "bench.bench_contract_list",
    "scorecard": "bench.bench_scorecard",
}


def main(argv: list[str]) -> int:
    if "--quick" in argv:  # small sizes that run in seconds (same as CONTRACTFLOW_BENCH_QUICK=1)
        os.environ["CONTRACTFLOW_BENCH_QUICK"] = "1"
        argv = [a for a in argv if a != "--quick"]
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.stderr.write(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}\n"
        )
        return 2
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        section = module.run()
        if os.environ.get("CONTRACTFLOW_BENCH_QUICK", "") in ("", "0"):
            write_section(name, section)  # quick runs print only: not numbers of record
        sys.stdout.write(section + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
