"""A local Prefect server plus the process that serves our flows, started and stopped together.

`contractflow serve` (engine/cli/serve.py) wraps the web app in it:

    from flows.stack import PrefectStack        # import lazily: no Prefect is imported here

    with PrefectStack(settings) as stack:       # blocks until the server is healthy
        print(stack.ui_url)                     # http://127.0.0.1:4200 (the Prefect UI)
        ...                                     # run the web app
    # leaving the block stops the flow runner, then the server (SIGTERM, then SIGKILL)

`PrefectStack(settings, *, host="127.0.0.1", port=None, startup_timeout=120.0,
prefect_database_url=None, serve_flows=True)`: `settings` is the product's
`engine.settings.Settings`; `port=None` takes 4200 when free, else any free port;
`prefect_database_url` puts Prefect's own database elsewhere (e.g.
`postgresql+asyncpg://...` for a server that workers share); `serve_flows=False` starts the
server alone (workers run the flows, see flows.deploy). Attributes: `api_url`, `ui_url`, `home` (Prefect's folder,
`<data_dir>/prefect`, holding `prefect.db`, `server.log`, `flows.log`). Raises
`PrefectStackError` (a `RuntimeError`) with the tail of the server log when the server does
not come up. `start()` / `stop()` exist for callers that cannot use `with`.

Why a real server: a temporary Prefect server cannot run schedules (see
../shared/notes/prefect.md); this one keeps its SQLite database under the product's data
folder, with telemetry off (flows.environment), and serves the UI that shows every run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from flows.environment import prefect_environment, prefect_home, settings_environment

DEFAULT_PORT = 4200


class PrefectStackError(RuntimeError):
    """The local Prefect server or flow runner did not start."""


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


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM the process group, wait, then SIGKILL what is left."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


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
    ) -> None:
        self.settings = settings
        self.prefect_database_url = prefect_database_url
        self.serve_flows = serve_flows
        self.host = host
        self.port = port or (DEFAULT_PORT if _port_free(host, DEFAULT_PORT) else _free_port(host))
        self.startup_timeout = startup_timeout
        self.home = prefect_home(settings)
        self._server: subprocess.Popen[bytes] | None = None
        self._flows: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    def environment(self) -> dict[str, str]:
        """What the server and the flow runner see: ours, the product's settings, Prefect's."""
        env = {
            **os.environ,
            **settings_environment(self.settings),
            **prefect_environment(self.settings, self.api_url),
            "PREFECT_SERVER_API_HOST": self.host,
            "PREFECT_SERVER_API_PORT": str(self.port),
        }
        if self.prefect_database_url:
            env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = self.prefect_database_url
        return env

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = (self.home / log_name).open("ab")
        self._logs.append(log)
        return subprocess.Popen(
            args,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # our own process group: stopped as a whole
        )

    def start(self) -> PrefectStack:
        self.home.mkdir(parents=True, exist_ok=True)
        self._server = self._spawn(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],
            "server.log",
        )
        try:
            self._wait_healthy()
            if not self.serve_flows:
                return self
            self._flows = self._spawn([sys.executable, "-m", "flows.serve"], "flows.log")
            time.sleep(0.5)
            if self._flows.poll() is not None:
                raise PrefectStackError(
                    f"the flow runner exited ({self._flows.returncode}):\n"
                    f"{_tail(self.home / 'flows.log')}"
                )
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self._server is not None
            if self._server.poll() is not None:
                raise PrefectStackError(
                    f"prefect server exited ({self._server.returncode}):\n"
                    f"{_tail(self.home / 'server.log')}"
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

    @property
    def running(self) -> bool:
        wanted = (self._server, self._flows) if self.serve_flows else (self._server,)
        return all(p is not None and p.poll() is None for p in wanted)

    def stop(self) -> None:
        _stop(self._flows, timeout=15)
        _stop(self._server, timeout=20)
        self._flows = self._server = None
        for log in self._logs:
            log.close()
        self._logs.clear()

    def __enter__(self) -> PrefectStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
