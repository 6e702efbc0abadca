"""The app's own log lines: a timestamp, a level, the logger, the message; or JSON lines.

`configure(settings)` is called once per process that serves (`contractflow serve`, every
uvicorn worker through engine.web.asgi). Settings: `CONTRACTFLOW_LOG_LEVEL` (debug, info,
warning, error; default info) and `CONTRACTFLOW_LOG_FORMAT` (`text`, or `json` for one
object per line: `{"time", "level", "logger", "message"}` plus `"exception"` when a
traceback goes with it). uvicorn's own loggers (`uvicorn.error`, `uvicorn.access`) are
routed through the same handler, so every line of a running server has the same shape.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
HANDLER_NAME = "contractflow"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


class UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")


def make_handler(log_format: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if log_format == "json" else UtcFormatter(TEXT_FORMAT))
    return handler


def configure(settings: Any) -> None:
    """Idempotent: a second call replaces our handler instead of adding another."""
    level = str(getattr(settings, "log_level", "info")).upper()
    root = logging.getLogger()
    for existing in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(existing)
    root.addHandler(make_handler(str(getattr(settings, "log_format", "text"))))
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn").setLevel(level)
