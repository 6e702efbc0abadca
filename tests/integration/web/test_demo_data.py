"""`make demo`'s data: every reviewer has something in their inbox; loading twice adds nothing."""

from __future__ import annotations

from engine.cli.demo import DEMO_USERS
from engine.services.demo_data import load_demo_contracts
from engine.services.runtime import Runtime
from engine.services.setup import initialise
from engine.services.users import add_user
from engine.services.views import list_contracts, list_tasks
from tests.support import EXAMPLES


def test_the_demo_fills_every_reviewers_inbox_and_is_idempotent(rt: Runtime) -> None:
    initialise(rt)
    for name, roles, email in DEMO_USERS:
        add_user(rt, name, roles, email=email)
    added = load_demo_contracts(rt, EXAMPLES)
    assert len(added) == 5
    for user in ("lena", "leo", "fei", "rita", "sam", "paul", "alice"):
        assert list_tasks(rt, user), f"{user}'s inbox is empty"
    assert load_demo_contracts(rt, EXAMPLES) == []
    assert len(list_contracts(rt)) == 5
