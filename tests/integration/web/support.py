"""Helpers for the web tests: users with known passwords, signed-in clients, tokens."""

from __future__ import annotations

import re
from functools import lru_cache

from fastapi.testclient import TestClient
from sqlalchemy import update

from engine.services.auth import create_token
from engine.services.runtime import Runtime
from engine.services.users import add_user, hash_password
from engine.store import models as m

PASSWORD = "demo-pass-2026"

#: One person per role (as `make demo` creates them), plus a second legal reviewer.
PEOPLE: dict[str, list[str]] = {
    "alice": ["contract_admin"],
    "adam": ["contract_admin"],
    "lena": ["legal"],
    "lars": ["legal"],
    "leo": ["legal_lead"],
    "fei": ["finance"],
    "rita": ["risk_officer"],
    "paul": ["procurement"],
    "sam": ["signer"],
    "maria": ["contract_manager"],
    "root": ["admin"],
}


@lru_cache(maxsize=1)
def password_hash() -> str:
    """One argon2 hash for every test user (hashing costs ~50 ms; do it once per run)."""
    return hash_password(PASSWORD)


def add_people(rt: Runtime, people: dict[str, list[str]] = PEOPLE) -> None:
    for name, roles in people.items():
        add_user(rt, name, roles, email=f"{name}@example.com")
    with rt.db.transaction() as session:
        session.execute(
            update(m.User)
            .where(m.User.username.in_(list(people)))
            .values(password_hash=password_hash())
        )


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/inbox").text)


def bearer(rt: Runtime, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(rt, username, 'test').token}"}
