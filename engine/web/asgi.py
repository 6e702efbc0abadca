"""`engine.web.asgi:app` for ASGI servers (uvicorn --workers N, gunicorn), settings from
the environment."""

from __future__ import annotations

from engine.web.app import create_app

app = create_app(send_emails=True)
