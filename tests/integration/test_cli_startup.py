"""`contractflow --help` stays light: no prefect, fastapi, durable_rules or python-docx."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("prefect", "fastapi", "durable", "docx", "sqlalchemy", "uvicorn", "starlette")


def test_help_does_not_import_heavy_libraries() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "from engine.cli.app import app; app(['--help'])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Usage: contractflow" in proc.stdout or "Usage:" in proc.stdout
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if "|" in line
    }
    assert imported, "importtime printed nothing"
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_every_command_group_is_listed_in_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    for command in ("init", "users", "contracts", "config"):
        assert command in proc.stdout
