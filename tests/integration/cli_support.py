"""Run the real `contractflow` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(
    *args: str, db_url: str, cwd: Path | None = None, stdin: str | None = None, **env: str
) -> Result:
    environ = {**os.environ, "CONTRACTFLOW_DATABASE_URL": db_url, **env}
    environ.pop("CONTRACTFLOW_USER", None) if "CONTRACTFLOW_USER" not in env else None
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        input=stdin,
        timeout=120,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
