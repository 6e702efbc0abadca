"""Whether durable_rules loads on this interpreter, asked without loading it here.

durable_rules 2.0.28's C extension calls `PyEval_CallObject`, which Python 3.13 removed:
its import fails with `undefined symbol: PyEval_CallObject` (issue 19). The design keeps
durable_rules as the engine wherever it loads; elsewhere the plain-Python backend runs the
same rules (tests/unit/risk's oracle checks both give the same flags). The probe runs the
import in a child process, so a crash of the extension cannot take this one down and the
C library stays out of the parent (only engine.risk.durable's workers load it). On the
interpreters where it is known to load (3.11, 3.12) nothing is probed: start-up pays
nothing there.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from functools import lru_cache

KNOWN_GOOD = ((3, 11), (3, 12))
PROBE = "import durable_rules_engine, durable.engine"


@lru_cache(maxsize=1)
def durable_problem() -> str | None:
    """Why durable_rules cannot load here (one line), or None when it can."""
    if importlib.util.find_spec("durable_rules_engine") is None:
        return "durable_rules is not installed"
    if sys.version_info[:2] in KNOWN_GOOD:
        return None
    try:
        proc = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"durable_rules could not be checked ({type(exc).__name__})"
    if proc.returncode == 0:
        return None
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"the import exited with code {proc.returncode}"
