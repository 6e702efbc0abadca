"""Round trip: render a contract, read the document back, get the same contract."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from engine.documents.intake import extract_contract
from engine.domain.contract import Contract
from tests.unit.documents.strategies import contracts
from tests.unit.documents.support import render, sent_out


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contracts())
def test_render_then_extract_gives_back_the_same_contract(contract: Contract) -> None:
    assert extract_contract(render(contract), "generated.docx") == sent_out(contract)


@settings(max_examples=10, deadline=None)
@given(contracts())
def test_either_template_reads_back_the_same_contract(contract: Contract) -> None:
    for template in ("sales", "purchase"):
        assert extract_contract(render(contract, template), "generated.docx") == sent_out(contract)
