"""`engine.web.asgi:app` for ASGI servers (uvicorn --workers N, gunicorn), settings from
the environment."""

from __future__ import annotations

from engine import logs
from engine.settings import get_settings
from engine.web.app import create_app

logs.configure(get_settings())
app = create_app(send_emails=True)
