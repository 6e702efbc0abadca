"""The page language: the user's setting, else Accept-Language, else the default."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from engine.services.runtime import Runtime
from engine.store import models as m
from tests.integration.web.support import sign_in


@pytest.fixture
def db_url(web_sqlite_url: str) -> str:
    return web_sqlite_url


def test_accept_language_then_user_setting_choose_the_header_words(
    web_rt: Runtime, client: TestClient
) -> None:
    sign_in(client, "lena")
    english = client.get("/inbox")
    assert 'lang="en"' in english.text and ">Sign out<" in english.text
    chinese = client.get("/inbox", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert 'lang="zh-CN"' in chinese.text and ">退出登录<" in chinese.text
    with web_rt.db.transaction() as session:
        session.execute(update(m.User).where(m.User.username == "lena").values(language="en"))
    setting_wins = client.get("/inbox", headers={"Accept-Language": "zh-CN"})
    assert 'lang="en"' in setting_wins.text and ">Sign out<" in setting_wins.text


def test_contract_page_buttons_read_pi_zhun_bo_hui_yao_qiu_xiu_gai_in_zh_cn(
    web_rt: Runtime, client: TestClient
) -> None:
    from engine.services.demo_data import load_demo_contracts
    from tests.support import EXAMPLES

    load_demo_contracts(web_rt, EXAMPLES)
    sign_in(client, "lena")
    page = client.get("/inbox")
    import re

    contract = re.search(r'href="/contracts/([A-Z0-9-]+)"', page.text)
    assert contract is not None
    zh = client.get(f"/contracts/{contract.group(1)}", headers={"Accept-Language": "zh-CN"})
    assert ">批准</button>" in zh.text and ">要求修改</button>" in zh.text
    en = client.get(f"/contracts/{contract.group(1)}")
    assert ">Approve</button>" in en.text


def test_zh_cn_inbox_shows_stages_in_chinese_and_amounts_with_the_yuan_sign(
    web_rt: Runtime, client: TestClient
) -> None:
    from engine.services.demo_data import load_demo_contracts
    from tests.support import EXAMPLES

    load_demo_contracts(web_rt, EXAMPLES)
    sign_in(client, "lena")
    zh = client.get("/inbox", headers={"Accept-Language": "zh-CN"})
    assert "法务审核" in zh.text
    assert "¥" in zh.text and " CNY<" not in zh.text
