"""The scorecard page, its drill-down, downloads and the JSON API, on a hand-built book."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import update

from engine.services.runtime import Runtime
from engine.store import models as m
from engine.web.app import create_app
from tests.integration.web.support import password_hash, sign_in

PERIOD = "from=2026-11-01&to=2027-01-04"


@pytest.fixture
def client(book: Runtime) -> Iterator[TestClient]:
    with book.db.transaction() as session:
        session.execute(update(m.User).values(password_hash=password_hash()))
    with TestClient(create_app(book)) as c:
        yield c


def test_the_page_ranks_rows_and_charts_the_numbers(client: TestClient) -> None:
    sign_in(client, "maria")
    page = client.get(f"/scorecard?{PERIOD}")
    assert page.status_code == 200
    html = page.text
    assert html.index("alice") < html.index("anna")
    assert "33.3 %" in html
    assert 'id="rate-chart"' in html and ">33.3<" in html  # the number beside the bar
    assert "1,680,000.00" in html
    drill = client.get(f"/scorecard/obligations?key=alice&by=owner&{PERIOD}")
    assert drill.status_code == 200
    assert "SC-A1" in drill.text and "SC-A3" not in drill.text  # not signed: not counted


def test_downloads_and_api(client: TestClient) -> None:
    sign_in(client, "maria")
    got = client.get(f"/scorecard.csv?by=team&{PERIOD}")
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert {r["Team"]: r["On-time rate"] for r in rows}["south"] == "33.3"
    book = load_workbook(io.BytesIO(client.get(f"/scorecard.xlsx?{PERIOD}").content))
    sheet = book.active
    assert sheet["A1"].value == "Owner" and sheet["A2"].value == "alice"
    api = client.get(f"/api/scorecard?{PERIOD}&limit=1")
    assert api.status_code == 200
    assert [r["owner"] for r in api.json()] == ["alice"]
    assert api.headers["X-Next-Offset"] == "1"
    bad = client.get("/api/scorecard?from=2027-02-01&to=2027-01-01")
    assert bad.status_code in (400, 422) and "--from" in bad.json()["error"]


def test_a_sales_person_sees_their_own_row_only(client: TestClient) -> None:
    sign_in(client, "anna")
    api = client.get(f"/api/scorecard?{PERIOD}")
    assert [r["owner"] for r in api.json()] == ["anna"]
