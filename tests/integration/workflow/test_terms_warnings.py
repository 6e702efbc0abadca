"""`submit` (and `show`) name the terms that do not agree, and the contract is stored."""

from __future__ import annotations

from pathlib import Path

from engine.services import lifecycle
from engine.services.runtime import Runtime
from tests.support import EXAMPLES


def test_submit_shows_payment_obligations_that_do_not_add_up(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(wrt, EXAMPLES / "SC-2026-0060.json", "alice")
    assert view.stage == "legal_review"
    assert [(w.code, w.field) for w in view.warnings] == [("payments_do_not_add_up", "obligations")]
    assert "add up to 240,000.00 CNY, not the contract amount 480,000.00 CNY" in (
        view.warnings[0].message
    )
    agreeing = lifecycle.submit(wrt, EXAMPLES / "SC-2026-0042.yaml", "alice")
    assert agreeing.warnings == []
