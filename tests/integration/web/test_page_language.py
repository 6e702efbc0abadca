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
