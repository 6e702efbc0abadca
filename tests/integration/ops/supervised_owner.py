"""A stand-in for `contractflow serve` in the supervision tests: supervises one child that
starts a grandchild in a session of its own (as Prefect's flow runs are), then waits to be
killed. Usage: python -m tests.integration.ops.supervised_owner HOME"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from flows.supervisor import ChildSpec, Supervisor

CHILD = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],"
    " start_new_session=True)\n"
    "time.sleep(300)\n"
)


def main() -> None:
    home = Path(sys.argv[1])
    spec = ChildSpec("worker", "test worker", [sys.executable, "-c", CHILD], "worker.log")
    Supervisor(home, [spec], {"PATH": "/usr/bin:/bin"}, poll=0.2).start()
    print("ready", flush=True)
    time.sleep(300)


if __name__ == "__main__":
    main()
