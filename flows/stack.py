"""A local Prefect server plus the process that serves our flows, started, watched and stopped
together.

`contractflow serve` (engine/cli/serve.py) wraps the web app in it:

    from flows.stack import PrefectStack        # import lazily: no Prefect is imported here

    with PrefectStack(settings) as stack:       # blocks until the server is healthy
        print(stack.ui_url)                     # http://127.0.0.1:4200 (the Prefect UI)
        ...                                     # run the web app
    # leaving the block stops the flow runner, then the server (SIGTERM, then SIGKILL)

`PrefectStack(settings, *, host="127.0.0.1", port=None, startup_timeout=120.0,
prefect_database_url=None, serve_flows=True, max_restarts=5, backoff=BACKOFF)`:
`settings` is the product's `engine.settings.Settings`; `port=None` takes
`settings.prefect_port` (`CONTRACTFLOW_PREFECT_PORT`), else 4200 when free, else any free
port; `prefect_database_url` puts Prefect's own database elsewhere (e.g.
`postgresql+asyncpg://...` for a server that workers share); `serve_flows=False` starts the
server alone (workers run the flows, see flows.deploy). Attributes: `api_url`, `ui_url`,
`home` (`<data_dir>/prefect`, holding `prefect.db`, `server.log`, `flows.log`, the lock and
`scheduler.json`). Raises `PrefectStackError` (a `RuntimeError`) with the tail of the log
when the server does not come up, and `SchedulerBusy` when another live `serve` holds the
data folder. `start()` / `stop()` exist for callers that cannot use `with`.

Once started, flows.supervisor watches both processes: restarts with back-off, loud log
lines, a visible give-up, no orphans after a SIGKILL, one scheduler per data folder.

Why a real server: a temporary Prefect server cannot run schedules (see
../shared/notes/prefect.md); this one keeps its SQLite database under the product's data
folder, with telemetry off (flows.environment), and serves the UI that shows every run.

Environment: the operator's own `PREFECT_*` variables win over our defaults
(flows.environment.OFFLINE, `PREFECT_HOME`, the database URL), except the three that wire
this stack together and so cannot be the operator's: `PREFECT_API_URL`,
`PREFECT_SERVER_API_HOST` and `PREFECT_SERVER_API_PORT` (set the port with
`CONTRACTFLOW_PREFECT_PORT`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from flows.environment import prefect_environment, prefect_home, settings_environment
from flows.supervisor import BACKOFF, ChildSpec, SchedulerBusy, Supervisor

__all__ = ["PrefectPortBusy", "PrefectStack", "PrefectStackError", "SchedulerBusy"]

DEFAULT_PORT = 4200


class PrefectStackError(RuntimeError):
    """The local Prefect server or flow runner did not start."""


class PrefectPortBusy(PrefectStackError):
    """`CONTRACTFLOW_PREFECT_PORT` names a port that something else holds."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class PrefectStack:
    """See the module docstring."""

    def __init__(
        self,
        settings: Any,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = 120.0,
        prefect_database_url: str | None = None,
        serve_flows: bool = True,
        max_restarts: int = 5,
        backoff: Sequence[float] = BACKOFF,
    ) -> None:
        self.settings = settings
        self.prefect_database_url = prefect_database_url
        self.serve_flows = serve_flows
        self.host = host
        self._wanted_port = port or getattr(settings, "prefect_port", None)
        self.port = self._wanted_port or DEFAULT_PORT  # chosen for real in start()
        self.startup_timeout = startup_timeout
        self.home = prefect_home(settings)
        specs = [
            ChildSpec(
                "server",
                "Prefect server",
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "server",
                    "start",
                    "--host",
                    self.host,
                    "--port",
                    "PORT",  # start() puts the chosen port here
                ],
                "server.log",
                ready=self._wait_healthy,
            )
        ]
        if serve_flows:
            specs.append(
                ChildSpec(
                    "flows",
                    "flow runner",
                    [sys.executable, "-m", "flows.serve"],
                    "flows.log",
                    ready=self._wait_alive,
                )
            )
        self.supervisor = Supervisor(
            self.home,
            specs,
            {},
            backoff=backoff,
            max_restarts=max_restarts,
        )

    def _choose_port(self, wanted: int | None) -> int:
        if wanted is None:
            return DEFAULT_PORT if _port_free(self.host, DEFAULT_PORT) else _free_port(self.host)
        if not _port_free(self.host, wanted):
            raise PrefectPortBusy(
                f"CONTRACTFLOW_PREFECT_PORT: {self.host}:{wanted} is already in use "
                "(pick another, or unset it to take any free port)"
            )
        return wanted

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    def environment(self) -> dict[str, str]:
        """What the server and the flow runner see: the product's settings, then Prefect's
        defaults unless the operator set that variable, then the stack's own wiring."""
        defaults = prefect_environment(self.settings, None)
        if self.prefect_database_url:
            defaults["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = self.prefect_database_url
        return {
            **os.environ,
            **settings_environment(self.settings),
            **{name: value for name, value in defaults.items() if name not in os.environ},
            "PREFECT_API_URL": self.api_url,
            "PREFECT_SERVER_API_HOST": self.host,
            "PREFECT_SERVER_API_PORT": str(self.port),
        }

    def start(self) -> PrefectStack:
        """Take the data folder's lock (ending what a killed predecessor left, which may free
        the port), choose the port, then start and supervise both processes."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.supervisor.acquire()
        try:
            self.port = self._choose_port(self._wanted_port)
        except BaseException:
            self.supervisor.stop()
            raise
        server = self.supervisor.child("server").spec
        server.argv[server.argv.index("--port") + 1] = str(self.port)
        self.supervisor.info = {"ui_url": self.ui_url, "api_url": self.api_url}
        self.supervisor.env = self.environment()
        self.supervisor.start()
        return self

    def _wait_healthy(self, proc: subprocess.Popen[bytes]) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise PrefectStackError(
                    f"prefect server exited ({proc.returncode}):\n{_tail(self.home / 'server.log')}"
                )
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise PrefectStackError(
            f"prefect server not healthy after {self.startup_timeout:.0f} s:\n"
            f"{_tail(self.home / 'server.log')}"
        )

    def _wait_alive(self, proc: subprocess.Popen[bytes]) -> None:
        time.sleep(0.5)
        if proc.poll() is not None:
            raise PrefectStackError(
                f"the flow runner exited ({proc.returncode}):\n{_tail(self.home / 'flows.log')}"
            )

    @property
    def _server(self) -> subprocess.Popen[bytes] | None:
        return self.supervisor.child("server").proc

    @property
    def _flows(self) -> subprocess.Popen[bytes] | None:
        return self.supervisor.child("flows").proc if self.serve_flows else None

    @property
    def running(self) -> bool:
        return self.supervisor.running

    def stop(self) -> None:
        self.supervisor.stop(timeouts=[15, 20] if self.serve_flows else [20])

    def __enter__(self) -> PrefectStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
