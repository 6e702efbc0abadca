"""How an audit event is hashed (issue 18, item 5), shared by the services and migrations.

An event's `hash` is an HMAC-SHA256, keyed with a secret kept outside the database (see
`engine.services.audit_key`), over the event's fields and the previous event's hash. With
a plain hash anyone who can write to the database could edit an event and recompute the
chain (the function is public); without the key they cannot produce a matching HMAC.

`legacy_hash` is the unkeyed SHA-256 the first schema used. It is kept only so the
migration that introduced the key can check the old chains before it re-keys them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

GENESIS = "0" * 64

#: The fields of an `audit_events` row that its hash covers, besides `prev_hash`.
LEGACY_FIELDS = (
    "contract_id",
    "seq",
    "at",
    "action",
    "actor_id",
    "on_behalf_of_id",
    "task_id",
    "from_stage",
    "to_stage",
    "revision",
    "comment",
    "details",
)
#: Fields added with the key: what the event pins besides the chain itself.
PINNED_FIELDS = ("actor_name", "terms_sha256", "document_sha256")
FIELDS = (*LEGACY_FIELDS, *PINNED_FIELDS)


def canonical_time(at: dt.datetime) -> str:
    """Microsecond UTC text: the same on SQLite and PostgreSQL after a round trip."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _body(prev_hash: str, values: dict[str, Any], fields: tuple[str, ...]) -> bytes:
    parts: list[Any] = [prev_hash]
    for name in fields:
        value: Any = values.get(name)
        if name == "at":
            value = canonical_time(value)
        elif name == "details":
            value = value or {}
        parts.append(value)
    return json.dumps(
        parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def keyed_hash(key: bytes, prev_hash: str, values: dict[str, Any]) -> str:
    """The event's HMAC-SHA256 (a few microseconds: cheap enough for every approval)."""
    return hmac.new(key, _body(prev_hash, values, FIELDS), hashlib.sha256).hexdigest()


def legacy_hash(prev_hash: str, values: dict[str, Any]) -> str:
    """The unkeyed hash of schema 0001 (for checking chains written before the key)."""
    return hashlib.sha256(_body(prev_hash, values, LEGACY_FIELDS)).hexdigest()


def key_id(key: bytes) -> str:
    """A short public name for a key, stored with each event, so `audit verify` can tell
    a wrong or lost key from tampering. It reveals nothing about the key."""
    return hmac.new(key, b"contractflow audit key id", hashlib.sha256).hexdigest()[:16]


def terms_checksum(terms: Any) -> str:
    """The checksum of a revision's terms as `contract_revisions.checksum` stores it."""
    return hashlib.sha256(json.dumps(terms, sort_keys=True, default=str).encode()).hexdigest()
