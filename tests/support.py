"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.settings import PROJECT_ROOT

EXAMPLES = PROJECT_ROOT / "examples"
DATA = Path(__file__).parent / "data"


class FrozenClock:
    """A clock tests can move: `clock.now += dt.timedelta(days=3)`."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now
