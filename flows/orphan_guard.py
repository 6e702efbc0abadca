"""`python -m flows.orphan_guard CMD ...`: run CMD so that it dies with our parent.

Linux's `prctl(PR_SET_PDEATHSIG, SIGTERM)` makes the kernel send SIGTERM to this process
when the process that started it dies, even by SIGKILL; the setting survives `exec`, so
CMD inherits it. Doing it here rather than in a `preexec_fn` keeps `subprocess` fork-safe
in a threaded parent (the web app has a thread pool). If the parent is already gone by the
time we get here (a race with its death), we exit instead of starting CMD. On other
systems the guard just runs CMD; flows.supervisor's marker sweep still ends leftovers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: python -m flows.orphan_guard CMD [ARGS...]\n")
        return 2
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        expected = os.environ.get("CONTRACTFLOW_SUPERVISOR_PARENT")
        if expected and str(os.getppid()) != expected:
            return 1  # the parent died before we armed the guard
    program = argv[0] if os.path.sep in argv[0] else shutil.which(argv[0]) or argv[0]
    os.execv(program, argv)  # noqa: S606 - exec the supervised command itself


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
