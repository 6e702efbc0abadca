"""Terms must agree: amount vs installments vs the paying party's payment obligations
(docs/contract-format.md, "Terms that must agree")."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from engine.domain.agreement import term_warnings
from tests.integration.cli_support import run_cli
from tests.support import EXAMPLES


def spec_example() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(
        (EXAMPLES / "SC-2026-0042.yaml").read_text()
    )
    return data


def lines(data: dict[str, Any]) -> list[str]:
    return [w.line() for w in term_warnings(data)]


def test_the_spec_example_agrees() -> None:
    assert lines(spec_example()) == []


def test_payment_obligations_that_do_not_add_up_to_the_amount_are_named() -> None:
    data = spec_example()
    data["obligations"][2]["amount"] = 1_580_000  # 720,000 + 1,580,000 = 2,300,000
    data["payment_terms"].pop("installments")
    assert lines(data) == [
        "obligations: the counterparty's payment obligations (OB-1, OB-3) add up to "
        "2,300,000.00 CNY, not the contract amount 2,400,000.00 CNY [payments_do_not_add_up]"
    ]


def test_a_difference_within_a_cent_is_no_warning() -> None:
    data = spec_example()
    data["obligations"][2]["amount"] = "1680000.01"
    data["payment_terms"].pop("installments")
    assert lines(data) == []


def test_payments_without_amounts_are_not_summed() -> None:
    data = spec_example()
    del data["obligations"][2]["amount"]
    data["payment_terms"].pop("installments")
    assert lines(data) == []


def test_installments_and_payment_obligations_must_pair_up() -> None:
    data = spec_example()
    data["obligations"][0]["due"] = "2026-12-06"
    data["obligations"][0]["amount"] = 700_000
    data["obligations"][2]["amount"] = 1_700_000  # the sum still agrees
    assert lines(data) == [
        "obligations[0].due: OB-1 is due 2026-12-06, but installment 1 (Advance) is due "
        "2026-12-05 [installments_do_not_match]",
        "obligations[0].amount: OB-1 is 700,000.00 CNY, but installment 1 (Advance) is 30% "
        "of the amount: 720,000.00 CNY [installments_do_not_match]",
        "obligations[2].amount: OB-3 is 1,700,000.00 CNY, but installment 2 (Balance on "
        "delivery) is 70% of the amount: 1,680,000.00 CNY [installments_do_not_match]",
    ]


def test_more_installments_than_payment_obligations_is_named() -> None:
    data = spec_example()
    data["obligations"] = [copy.deepcopy(data["obligations"][0])]
    data["obligations"][0]["amount"] = 2_400_000
    assert lines(data) == [
        "payment_terms.installments: 2 installment(s) but 1 of the counterparty's payment "
        "obligations (OB-1) [installments_do_not_match]"
    ]


def test_a_purchase_checks_our_payments_not_the_counterpartys() -> None:
    data = spec_example()
    data["direction"] = "buy"
    data["payment_terms"].pop("installments")
    assert lines(data) == []  # we pay nothing as a payment obligation: nothing to sum
    for ob in data["obligations"]:
        ob["party"] = "us" if ob["kind"] == "payment" else "counterparty"
    data["obligations"][0]["amount"] = 1
    assert [w.code for w in term_warnings(data)] == ["payments_do_not_add_up"]
    assert "our payment obligations (OB-1, OB-3)" in term_warnings(data)[0].message


@pytest.mark.parametrize("name", ["SC-2026-0051.yaml", "PO-2026-0107.yaml", "SC-2026-0060.json"])
def test_contracts_validate_shows_the_warnings_and_still_passes(name: str, tmp_path: Path) -> None:
    result = run_cli(
        "contracts",
        "validate",
        str(EXAMPLES / name),
        "--format",
        "json",
        db_url=f"sqlite:///{tmp_path / 'x.db'}",
    )
    assert result.code == 0, result.stderr
    report = result.json
    assert report["valid"] is True
    assert report["warnings"] and all(
        "[payments_do_not_add_up]" in w or "[installments_do_not_match]" in w
        for w in report["warnings"]
    )
    table = run_cli(
        "contracts", "validate", str(EXAMPLES / name), db_url=f"sqlite:///{tmp_path / 'x.db'}"
    )
    assert table.code == 0 and "warning: " in table.stderr and "add up to" in table.stderr
