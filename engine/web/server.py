"""Running the app under uvicorn, with `TCP_NODELAY` on every connection.

asyncio turns Nagle's algorithm off (`TCP_NODELAY`) on an accepted connection only when the
socket reports `proto == IPPROTO_TCP`. uvicorn's single-process path lets asyncio create
the listening socket (from `getaddrinfo`, proto 6), but with `--workers N` uvicorn binds
the socket itself as `socket.socket(family)` (proto 0) and hands it to the worker
processes; accepted connections inherit proto 0, so Nagle stays on. A response written
in two pieces (headers, then body) then waits for the client's delayed ACK: ~40 ms on
every keep-alive request after the first, on Linux (measured: 0.9 ms vs 44 ms p50 for
the same 3 kB response; uvicorn issue Kludex/uvicorn#3149, unfixed in 0.54).

`NoDelayConfig` binds the listener with `IPPROTO_TCP`, which is all asyncio needs.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "engine.web.asgi:app"


class NoDelayConfig(uvicorn.Config):
    """`uvicorn.Config` whose pre-bound TCP listener says it is TCP (see the module doc)."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
            # The same descriptor, re-wrapped: proto is Python-side metadata that accepted
            # sockets copy, and asyncio's TCP_NODELAY check reads.
            sock = socket.socket(
                sock.family, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=sock.detach()
            )
        return sock


def run_workers(
    host: str, port: int, workers: int, *, access_log: bool = True, log_level: str = "info"
) -> None:
    """`uvicorn engine.web.asgi:app --workers N`, with the listener bound as above."""
    config = NoDelayConfig(
        APP,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        log_config=None,  # engine.logs in each worker (engine.web.asgi) shapes the lines
    )
    sock = config.bind_socket()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
