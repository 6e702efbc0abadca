"""`make demo`: a database with demo users and the example contracts, ready to serve.

Run as `python -m engine.cli.demo`. Safe to run again: users are updated, contracts that
already exist are left as they are.
"""

from __future__ import annotations

import sys

from engine.cli.common import handle_errors, runtime

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - documented demo password, printed by make demo

#: (user, roles, email) - one person per role so every inbox has an owner.
DEMO_USERS: list[tuple[str, list[str], str]] = [
    ("alice", ["contract_admin"], "alice@example.com"),
    ("lena", ["legal"], "lena@example.com"),
    ("leo", ["legal_lead", "legal"], "leo@example.com"),
    ("fei", ["finance"], "fei@example.com"),
    ("rita", ["risk_officer"], "rita@example.com"),
    ("paul", ["procurement"], "paul@example.com"),
    ("sam", ["signer"], "sam@example.com"),
    ("maria", ["contract_manager"], "maria@example.com"),
    ("root", ["admin"], "root@example.com"),
]


def main() -> None:
    from engine.services.demo_data import load_demo_contracts
    from engine.services.setup import initialise
    from engine.services.users import add_user
    from engine.settings import PROJECT_ROOT

    with runtime() as rt:
        result = initialise(rt)
        for name, roles, email in DEMO_USERS:
            add_user(rt, name, roles, email=email, password=DEMO_PASSWORD)
        added = load_demo_contracts(rt, PROJECT_ROOT / "examples")
    out = sys.stdout
    out.write(f"database ready: {result['database']}\n")
    out.write(f"demo users (password {DEMO_PASSWORD}): {', '.join(u for u, _, _ in DEMO_USERS)}\n")
    if added:
        out.write(f"example contracts loaded: {', '.join(added)}\n")
    else:
        out.write("example contracts: already loaded\n")
    out.write("sign in as lena (legal), leo (legal lead), fei (finance), rita (risk), sam ")
    out.write("(signer), paul (procurement), alice (contract admin), maria (manager) or root\n")


if __name__ == "__main__":
    handle_errors(main)
