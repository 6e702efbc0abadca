"""Submits contracts in a loop, for the crash test: `python -m
tests.integration.notices.writer_process FILE`. Prints `ready`, then `submitted CODE`
after each commit; the test kills it at a random moment."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.services import lifecycle
from engine.services.runtime import Runtime
from tests.integration.workflow.support import FixedEvaluator


def main() -> None:
    rt = Runtime()
    rt.set_evaluator(FixedEvaluator())
    rt.db.engine.connect().close()
    path = Path(sys.argv[1])
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        view = lifecycle.submit(rt, path, "alice")
        sys.stdout.write(f"submitted {view.id}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
