"""The sender as its own process, for the crash test: `python -m tests.integration.alerts.sender_process`.

Settings come from `CONTRACTFLOW_*` variables. Prints `ready` once everything is imported so
the test's kill lands inside the sending, not inside Python's start-up.
"""

from __future__ import annotations

import sys

from engine.services.delivery import send_pending
from engine.services.runtime import Runtime


def main() -> None:
    rt = Runtime()
    rt.db.engine.connect().close()  # open the pool before the clock starts
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    result = send_pending(rt, batch_size=10)
    sys.stdout.write(f"done {result.as_dict()}\n")
    rt.close()


if __name__ == "__main__":
    main()
