"""The contract list: each filter, visibility, sorting, paging, search (Chinese too)."""

from __future__ import annotations

import pytest

from engine.errors import InvalidInput
from engine.services.access import acting_principal
from engine.services.contract_list import checked_filter, contract_list
from engine.services.runtime import Runtime
from tests.integration.lists.support import CONTRACTS

ALL = {c[0] for c in CONTRACTS}


def ids(
    rt: Runtime, who: str | None = "maria", limit: int = 100, offset: int = 0, **f: str
) -> list[str]:
    principal = acting_principal(rt, who) if who else None
    rows = contract_list(rt, principal, checked_filter(rt, **f), limit=limit, offset=offset)
    return [r.id for r in rows]


def test_a_contract_manager_sees_every_contract(lrt: Runtime) -> None:
    assert set(ids(lrt)) == ALL


def test_an_owner_sees_their_own_and_finance_sees_only_its_tasks(lrt: Runtime) -> None:
    assert set(ids(lrt, "alice")) == {"SC-2027-0001", "SC-2027-0002", "SC-2027-0005"}
    # finance reviews at legal review only contracts over 1,000,000 (standard workflow)
    assert set(ids(lrt, "fei")) == {"SC-2027-0002", "SC-2027-0004", "SC-2027-0006"}
    # legal holds the open tasks, so legal sees them all
    assert set(ids(lrt, "lena")) == ALL


def test_filters_combine_with_visibility(lrt: Runtime) -> None:
    assert ids(lrt, "alice", owner="anna") == []
    assert ids(lrt, "alice", min_severity="critical") == ["SC-2027-0002"]


def test_stage_and_status_filters(lrt: Runtime) -> None:
    assert set(ids(lrt, stage="legal_review")) == ALL
    assert ids(lrt, stage="signing") == []
    assert set(ids(lrt, status="active")) == ALL
    assert ids(lrt, status="closed") == []


def test_min_severity_keeps_that_severity_and_worse(lrt: Runtime) -> None:
    assert set(ids(lrt, min_severity="high")) == {"SC-2027-0001", "SC-2027-0002"}
    assert set(ids(lrt, min_severity="medium")) == {"SC-2027-0001", "SC-2027-0002", "SC-2027-0004"}
    assert set(ids(lrt, min_severity="none")) == ALL


def test_owner_and_counterparty_filters(lrt: Runtime) -> None:
    assert set(ids(lrt, owner="anna")) == {"SC-2027-0003", "SC-2027-0004", "SC-2027-0006"}
    assert ids(lrt, owner="nobody") == []
    assert set(ids(lrt, counterparty="华东机械")) == {"SC-2027-0001", "SC-2027-0005"}
    assert ids(lrt, counterparty="huadong machinery") == ["SC-2027-0003"]


def test_search_covers_id_title_and_counterparty_in_any_case(lrt: Runtime) -> None:
    assert ids(lrt, search="sc-2027-0004") == ["SC-2027-0004"]
    assert ids(lrt, search="VALVES") == ["SC-2027-0003"]
    assert ids(lrt, search="离心泵") == ["SC-2027-0002"]
    assert set(ids(lrt, search="华东")) == {"SC-2027-0001", "SC-2027-0005"}
    assert ids(lrt, search="上海重工") == ["SC-2027-0002"]


def test_search_treats_like_wildcards_as_text(lrt: Runtime) -> None:
    assert ids(lrt, search="100%_off") == ["SC-2027-0005"]
    assert ids(lrt, search="%") == ["SC-2027-0005"]
    assert ids(lrt, search="_") == ["SC-2027-0005"]


def test_sorting_by_amount_both_ways_and_by_severity_rank(lrt: Runtime) -> None:
    by_amount = sorted(CONTRACTS, key=lambda c: c[4])
    assert ids(lrt, sort="amount") == [c[0] for c in by_amount]
    assert ids(lrt, sort="-amount") == [c[0] for c in reversed(by_amount)]
    worst_first = ids(lrt, sort="-max_severity")
    assert worst_first[:3] == ["SC-2027-0002", "SC-2027-0001", "SC-2027-0004"]
    assert ids(lrt, sort="id") == sorted(ALL)


def test_pages_cover_the_list_once_without_overlap(lrt: Runtime) -> None:
    whole = ids(lrt, sort="id")
    pages = [ids(lrt, sort="id", limit=4, offset=o) for o in (0, 4, 8)]
    assert pages[0] == whole[:4] and pages[1] == whole[4:] and pages[2] == []


def test_unknown_filter_values_are_refused_naming_the_option(lrt: Runtime) -> None:
    with pytest.raises(InvalidInput) as caught:
        checked_filter(lrt, stage="nowhere", status="open", min_severity="huge", sort="colour")
    lines = caught.value.lines()
    assert [line.split(":")[0] for line in lines] == [
        "--status",
        "--min-severity",
        "--sort",
        "--stage",
    ]


def test_rows_carry_the_list_fields(lrt: Runtime) -> None:
    rows = contract_list(lrt, None, checked_filter(lrt, search="SC-2027-0002"))
    row = rows[0].model_dump()
    assert row["counterparty"] == "上海重工集团"
    assert row["owner"] == "alice" and row["team"] is None
    assert row["max_severity"] == "critical" and row["currency"] == "CNY"
    assert row["submitted_at"] is not None and row["updated_at"] is not None


def test_team_filter_keeps_contracts_whose_owner_is_in_that_team(lrt: Runtime) -> None:
    from engine.services.users import set_user

    set_user(lrt, "anna", team="华东销售")
    assert set(ids(lrt, team="华东销售")) == {"SC-2027-0003", "SC-2027-0004", "SC-2027-0006"}
    assert ids(lrt, team="nobody's team") == []
    [row] = contract_list(lrt, None, checked_filter(lrt, search="SC-2027-0003"))
    assert row.team == "华东销售"
