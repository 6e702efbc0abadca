"""`python -m bench [NAME...]`: run benchmarks and rewrite their sections of docs/benchmarks.md.

Each benchmark module exposes `run() -> str` returning its Markdown section (with the
numbers, the machine and the date); `bench.report.write_section` merges it into the file so
one benchmark can be re-run without losing the others.
"""

from __future__ import annotations

import importlib
import sys

from bench.report import write_section

#: name -> module; each module has `run() -> str`.
BENCHMARKS: dict[str, str] = {}


def main(argv: list[str]) -> int:
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
        write_section(name, section)
        sys.stdout.write(section + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
