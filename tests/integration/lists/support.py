"""Six contracts with known owners, counterparties (some Chinese), amounts and flags."""

from __future__ import annotations

from decimal import Decimal

from engine.definitions.contracts import load_contract_file
from engine.services import lifecycle
from engine.services.runtime import Runtime
from tests.support import EXAMPLES

#: id, title ([sev] makes the test evaluator raise that flag), counterparty, owner, amount
CONTRACTS = [
    ("SC-2027-0001", "Pumps [high]", "华东机械有限公司", "alice", 500_000),
    ("SC-2027-0002", "离心泵采购 [critical]", "上海重工集团", "alice", 2_400_000),
    ("SC-2027-0003", "Valves", "Huadong Machinery Co., Ltd.", "anna", 90_000),
    ("SC-2027-0004", "Motors [medium]", "Jiangsu Precision Tools", "anna", 1_200_000),
    ("SC-2027-0005", "Spare parts 100%_off", "华东机械有限公司", "alice", 45_000),
    ("SC-2027-0006", "Cables [low]", "Nanjing Cable Works", "anna", 7_000_000),
]


def seed_contracts(rt: Runtime) -> None:
    base = load_contract_file(EXAMPLES / "SC-2026-0042.yaml")
    for code, title, party, owner, amount in CONTRACTS:
        contract = base.model_copy(
            update={
                "id": code,
                "title": title,
                "owner": owner,
                "amount": Decimal(amount),
                "counterparty": base.counterparty.model_copy(update={"name": party}),
            }
        )
        lifecycle.submit_contract(rt, contract, owner)
