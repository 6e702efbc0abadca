"""`contractflow serve --workers N`: every connection gets TCP_NODELAY.

uvicorn binds the multi-worker listener as a proto-0 socket, and asyncio then leaves
Nagle's algorithm on for accepted connections: every keep-alive request after the first
waited ~40 ms for the client's delayed ACK (see `engine.web.server`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

import httpx

from engine.web.server import NoDelayConfig


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connections_accepted_on_the_workers_listener_have_tcp_nodelay() -> None:
    listener = NoDelayConfig("engine.web.asgi:app", host="127.0.0.1", port=0).bind_socket()
    assert listener.proto == socket.IPPROTO_TCP
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def accept_one() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Probe, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(accept_one())
    assert seen and seen[0] != 0


def test_serve_with_two_workers_answers_keep_alive_requests_without_the_ack_stall(
    web_sqlite_url: str,
) -> None:
    port = _free_port()
    env = {**os.environ, "CONTRACTFLOW_DATABASE_URL": web_sqlite_url}
    command = [sys.executable, "-m", "engine.cli", "serve", "--no-scheduler", "--workers", "2"]
    command += ["--port", str(port), "--no-access-log"]
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "serve exited"
            try:
                if httpx.get(base + "/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not answer within 60 s"
            time.sleep(0.2)
        took = []
        with httpx.Client(base_url=base) as http:
            http.get("/login")
            for _ in range(21):
                began = time.perf_counter()
                assert http.get("/login").status_code == 200
                took.append(time.perf_counter() - began)
        # With Nagle on, every one of these waited >= 40 ms; a page this small takes ~2 ms.
        assert statistics.median(took) < 0.035
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
