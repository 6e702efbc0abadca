"""A regular install works (issue 19 item 4): the wheel built from this tree, installed
into a fresh virtual environment (dependencies from pip's cache, pinned by
constraints.txt), runs `init`, `users add`, `submit` and `rules test` from an empty folder
that holds nothing but the contract file. Slow: a wheel build and a full install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, f"{args}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.mark.slow
def test_the_wheel_installed_into_a_fresh_venv_runs_init_submit_and_rules_test(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "dist"
    run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, ROOT, cwd=tmp_path
    )
    [wheel] = dist.glob("contractflow-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    run(
        venv / "bin" / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        str(wheel),
        "-c",
        ROOT / "constraints.txt",
        cwd=tmp_path,
    )

    work = tmp_path / "empty"
    work.mkdir()
    shutil.copy(ROOT / "examples" / "SC-2026-0042.yaml", work)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTRACTFLOW_", "PYTHON"))}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    cf = venv / "bin" / "contractflow"
    # The installed code, not this checkout's: nothing of ROOT is on the path.
    where = run(
        venv / "bin" / "python", "-c", "import engine; print(engine.__file__)", cwd=work, env=env
    )
    assert str(venv) in where and str(ROOT) not in where

    initialised = run(cf, "init", cwd=work, env=env)
    # The packaged defaults reached the installed code: every shipped workflow and the rules.
    assert "workflow standard version 1: loaded" in initialised
    assert "rules: " in initialised
    run(cf, "users", "add", "alice", "--role", "contract_admin", cwd=work, env=env)
    submitted = run(
        cf, "submit", "SC-2026-0042.yaml", "--as", "alice", "--format", "json", cwd=work, env=env
    )
    assert '"SC-2026-0042"' in submitted
    assert run(cf, "rules", "test", cwd=work, env=env)
    assert (work / "contractflow.db").exists()
    assert run(cf, "db", "current", cwd=work, env=env)
