"""Failed sign-ins slow an attacker down without letting them lock a user out.

Counts live in `sign_in_throttle` (so every uvicorn worker and a restart see them), under
three keys per attempt:

- `address:IP` (an IPv6 address counts as its /64): after ADDRESS.limit failures, that
  client is refused (429 + Retry-After) for a back-off that doubles per further failure,
  at most ADDRESS.max_block. This stops one client guessing, for any account.
- `account:NAME`: after ACCOUNT.limit failures from anywhere, the account is throttled
  for a doubling back-off of at most ACCOUNT.max_block (bounded: an attacker cannot
  stretch it beyond that).
- `pair:NAME@IP`: whether this address has itself failed for this account lately.

While an account is throttled, only addresses that failed for it are refused. A client
address with no recent failure for the account may still try, so a user whose password
someone else is guessing can sign in from their own machine at once. The price: an
attacker with many addresses gets one guess per address per window while the account is
throttled (each address is refused after its first failure), on top of the per-address
limit. Unknown user names are counted like real ones, so the answers do not tell which
names exist. An attempt that is refused is not checked and not counted: waiting it out is
the only way on. A correct password clears the pair key only (never the address or the
account count: signing in to one's own account must not reset a guessing budget).
Counts are forgotten WINDOW after the last failure (or the end of its block).

Bearer tokens are 256-bit random values, so guessing them is hopeless; a bad token still
counts against its address and an address throttled for anything gets 429 for bad tokens.
Valid tokens are never throttled and pay nothing for this (only failures are counted).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import TooManyAttempts
from engine.services.runtime import Runtime
from engine.store import models as m

log = logging.getLogger("contractflow.auth")

#: Failures older than this (after the end of their block) are forgotten.
WINDOW = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Policy:
    """`limit` failures start a block of `first_block`, doubled per failure after that,
    at most `max_block`."""

    limit: int
    first_block: dt.timedelta
    max_block: dt.timedelta

    def block(self, failures: int) -> dt.timedelta | None:
        if failures < self.limit:
            return None
        doublings = min(failures - self.limit, 20)
        return min(self.first_block * (2**doublings), self.max_block)


ACCOUNT = Policy(limit=5, first_block=dt.timedelta(seconds=30), max_block=dt.timedelta(minutes=15))
ADDRESS = Policy(limit=10, first_block=dt.timedelta(seconds=60), max_block=dt.timedelta(hours=1))


def client_key(address: str | None) -> str:
    """The client as the throttle counts it: an IPv4 address, an IPv6 /64 (one host is
    given a whole /64), or the raw text for anything else (test clients, unix sockets)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Keys:
    account: str
    address: str
    pair: str

    @classmethod
    def of(cls, username: str, address: str | None) -> Keys:
        name = username.strip().lower()[:64]
        client = client_key(address)
        return cls(f"account:{name}", f"address:{client}", f"pair:{name}@{client}")


def _active(row: m.SignInThrottle | None, now: dt.datetime) -> bool:
    """Does the row still count (a failure or block within WINDOW)?"""
    if row is None:
        return False
    latest = max(row.last_failure_at, row.blocked_until or row.last_failure_at)
    return now - latest <= WINDOW


def _blocked_for(row: m.SignInThrottle | None, now: dt.datetime) -> int:
    """Seconds left of the row's block (0: not blocked)."""
    if row is None or row.blocked_until is None or row.blocked_until <= now:
        return 0
    return int((row.blocked_until - now).total_seconds() + 0.999)


def check_sign_in(rt: Runtime, username: str, address: str | None) -> None:
    """Refuse (TooManyAttempts) a sign-in attempt while its address is blocked, or while
    its account is blocked and this address has failed for it lately. One read."""
    keys = Keys.of(username, address)
    now = rt.clock()
    with rt.db.reads() as session:
        rows = {
            r.key: r
            for r in session.scalars(
                select(m.SignInThrottle).where(
                    m.SignInThrottle.key.in_([keys.account, keys.address, keys.pair])
                )
            )
        }
    wait = _blocked_for(rows.get(keys.address), now)
    if wait:
        log.warning("sign-in refused: address %s is throttled (%d s left)", keys.address, wait)
        raise TooManyAttempts(
            f"too many failed sign-ins from your address; try again in {wait} seconds", wait
        )
    wait = _blocked_for(rows.get(keys.account), now)
    if wait and _active(rows.get(keys.pair), now):
        log.warning(
            "sign-in refused: %s is throttled for %s (%d s left)", keys.account, keys.address, wait
        )
        raise TooManyAttempts(
            f"too many failed sign-ins for this account; try again in {wait} seconds", wait
        )


def record_failure(rt: Runtime, username: str, address: str | None) -> None:
    """Count a failed password (for an existing user name or not) under all three keys."""
    keys = Keys.of(username, address)
    now = rt.clock()
    with rt.db.transaction() as session:
        _forget_old(session, now)
        for key, policy in ((keys.account, ACCOUNT), (keys.address, ADDRESS), (keys.pair, None)):
            _count(session, key, policy, now)


def record_token_failure(rt: Runtime, address: str | None) -> None:
    """A bearer token that is unknown or revoked: refused with 429 while the address is
    blocked, otherwise counted against the address (a valid token never comes here)."""
    key = Keys.of("", address).address
    now = rt.clock()
    with rt.db.transaction() as session:
        row = session.get(m.SignInThrottle, key)
        wait = _blocked_for(row, now)
        if not wait:
            _count(session, key, ADDRESS, now)
    if wait:
        raise TooManyAttempts(
            f"too many failed sign-ins from your address; try again in {wait} seconds", wait
        )


def record_success(rt: Runtime, username: str, address: str | None) -> None:
    """A correct password: this address is no longer failing for this account."""
    keys = Keys.of(username, address)
    with rt.db.transaction() as session:
        session.execute(delete(m.SignInThrottle).where(m.SignInThrottle.key == keys.pair))


def _count(session: Session, key: str, policy: Policy | None, now: dt.datetime) -> None:
    """One more failure under `key`, starting or extending its block (row-locked, so two
    workers counting at once both count)."""
    row = session.get(m.SignInThrottle, key, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                row = m.SignInThrottle(key=key, failures=0, last_failure_at=now)
                session.add(row)
        except IntegrityError:  # another worker inserted it first: count on its row
            row = session.get(m.SignInThrottle, key, with_for_update=True, populate_existing=True)
            assert row is not None
    if not _active(row, now):
        row.failures, row.blocked_until = 0, None
    row.failures += 1
    row.last_failure_at = now
    block = policy.block(row.failures) if policy else None
    if block is not None:
        row.blocked_until = now + block
        log.warning(
            "sign-in throttled: %s after %d failures, for %d s",
            key,
            row.failures,
            int(block.total_seconds()),
        )
    else:
        log.info("sign-in failed: %s (%d in the window)", key, row.failures)
    session.flush()


def _forget_old(session: Session, now: dt.datetime) -> None:
    """Drop rows that no longer count, so the table stays about as large as the number of
    clients failing right now. A row can only count for WINDOW past the end of its block,
    and no block is longer than ADDRESS.max_block."""
    stale = now - WINDOW
    session.execute(
        delete(m.SignInThrottle).where(
            and_(
                m.SignInThrottle.last_failure_at < stale - ADDRESS.max_block,
                or_(
                    m.SignInThrottle.blocked_until.is_(None),
                    m.SignInThrottle.blocked_until < stale,
                ),
            )
        )
    )


def throttle_rows(rt: Runtime) -> list[m.SignInThrottle]:
    """Every counted key (for `contractflow users throttle` style reports and tests)."""
    with rt.db.reads() as session:
        return list(session.scalars(select(m.SignInThrottle).order_by(m.SignInThrottle.key)))
