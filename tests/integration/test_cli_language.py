"""`--language` on users add/set is stored and checked; the CLI stays English and its JSON
does not change with the default language."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cli(tmp_path: Path, *args: str, language: str = "en") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CONTRACTFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'cf.db'}",
        "CONTRACTFLOW_DEFAULT_LANGUAGE": language,
    }
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_users_language_is_checked_and_json_is_the_same_in_every_language(tmp_path: Path) -> None:
    assert _cli(tmp_path, "init").returncode == 0
    english = _cli(tmp_path, "users", "add", "wei", "--role", "legal", "--format", "json")
    chinese = _cli(
        tmp_path,
        *("users", "add", "wei", "--role", "legal", "--language", "zh-CN", "--format", "json"),
        language="zh-CN",
    )
    assert english.returncode == chinese.returncode == 0
    assert json.loads(english.stdout) == json.loads(chinese.stdout)
    bad = _cli(tmp_path, "users", "set", "wei", "--language", "fr", language="zh-CN")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: --language: 'fr' is not a language contractflow speaks (en or zh-CN)"
    )
    assert "Traceback" not in bad.stderr
