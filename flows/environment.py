"""Prefect's environment for this product: offline, no telemetry, state under our data folder.

Prefect reads its settings from the environment when it is first imported, so these must be
in place before any `import prefect`. `flows/__init__.py` applies the defaults (without
overriding what an operator set), and `flows.stack` passes the full set to the processes it
starts. Measured facts behind each value: ../shared/notes/prefect.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: Telemetry and network calls off; nothing phones home.
OFFLINE: dict[str, str] = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}


def prefect_home(settings: Any) -> Path:
    """`<data_dir>/prefect`: Prefect's database, logs and profiles for this deployment."""
    return (Path(settings.data_dir) / "prefect").resolve()


def prefect_environment(settings: Any, api_url: str | None = None) -> dict[str, str]:
    """Every Prefect variable a process of ours needs (server, flow runner, worker)."""
    home = prefect_home(settings)
    env = {
        **OFFLINE,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
    }
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def apply_offline_defaults() -> None:
    """Set the offline defaults in this process unless the operator chose otherwise."""
    for name, value in OFFLINE.items():
        os.environ.setdefault(name, value)
    if "PREFECT_HOME" not in os.environ:
        from engine.settings import get_settings

        home = prefect_home(get_settings())
        os.environ["PREFECT_HOME"] = str(home)


def settings_environment(settings: Any) -> dict[str, str]:
    """`settings` as `CONTRACTFLOW_*` variables, so a child process sees the same product."""
    from pydantic import SecretStr

    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, bool):
            value = "true" if value else "false"
        if isinstance(value, Path):
            value = value.resolve()  # the child may run in another folder
        env[f"CONTRACTFLOW_{name.upper()}"] = str(value)
    env["CONTRACTFLOW_DATABASE_URL"] = absolute_sqlite_url(str(settings.database_url))
    return env


def absolute_sqlite_url(url: str) -> str:
    """`sqlite:///contractflow.db` names a file in the current folder; pin it down."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        path = url[len(prefix) :]
        if path and path != ":memory:" and not path.startswith("file:"):
            return prefix + str(Path(path).resolve())
    return url
