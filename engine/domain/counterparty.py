"""The counterparty register's vocabulary (SPEC section 7): statuses, the Unified Social
Credit Code check, name normalisation, a contract's outstanding amount and the register
facts the rules read.

Kept in the domain (stdlib only) so that the contract file check, the store, the rules and
the web app mean the same thing by "outstanding" or "the same counterparty".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.domain.contract import Contract


class CounterpartyStatus(StrEnum):
    ACTIVE = "active"
    WATCH = "watch"
    BLOCKED = "blocked"


# -- Unified Social Credit Code (GB 32100-2015) ---------------------------------------------

#: The 31 characters a code may use (no I, O, S, V, Z), in the order of their values.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Weights of positions 1..17: 3^(i-1) mod 31.
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def uscc_check_character(first17: str) -> str:
    """The 18th character of a code: 31 - (weighted sum mod 31), 31 written as 0."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why `code` is not a valid Unified Social Credit Code, or None when it is.

    GB 32100-2015: 18 characters; the registration authority and entity type, a
    six-digit administrative division, the nine-character organisation code and a check
    character computed over the first 17.
    """
    if len(code) != 18:
        return f"must be 18 characters, not {len(code)}"
    if not _USCC_SHAPE.match(code):
        return (
            "may use only digits and the capital letters "
            "A-H J-N P Q R T U W X Y (positions 3-8: digits)"
        )
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]}, the code's first 17 characters need {expected}"
    return None


def normalise_code(code: str) -> str:
    """Codes are written in capitals; spaces around them are not part of the code."""
    return code.strip().upper()


def normalise_name(name: str) -> str:
    """The register's key for a name: case and surrounding (and repeated) spaces ignored."""
    return " ".join(name.split()).casefold()


# -- what a contract owes us ----------------------------------------------------------------


def outstanding(contract: Contract, to_base: Callable[[Decimal, str], Decimal]) -> Decimal:
    """SPEC 7: a sale's amount in the base currency less its counterparty payments that are
    fulfilled or waived (never below 0); a purchase owes us nothing (0)."""
    if contract.direction.value != "sell":
        return Decimal(0)
    total = to_base(contract.amount, contract.currency)
    for ob in contract.obligations:
        if (
            ob.amount is not None
            and ob.party.value == "counterparty"
            and ob.kind.value == "payment"
            and ob.status.value != "open"
        ):
            total -= to_base(ob.amount, contract.currency)
    return max(total, Decimal(0))


# -- the facts the rules read ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterFacts:
    """What the register says about a contract's counterparty when it is scored.

    `exposure_other`: the exposure of the counterparty's *other* contracts; `rating`: the
    register's rating (None: the file's rating stands). A counterparty not yet in the
    register reads as a new record would: active, no limit, nothing owed elsewhere.
    """

    status: CounterpartyStatus = CounterpartyStatus.ACTIVE
    credit_limit: Decimal | None = None
    exposure_other: Decimal = Decimal(0)
    rating: Any = None  # CreditRating | None (kept loose: no import cycle with contract)


UNREGISTERED = RegisterFacts()
#: The attribute a scored contract carries its facts in (not a model field: never stored,
#: never serialised, ignored by equality).
_ATTR = "register_facts"


def register_of(contract: Contract) -> RegisterFacts:
    facts: RegisterFacts = contract.__dict__.get(_ATTR, UNREGISTERED)
    return facts


def with_register(contract: Contract, facts: RegisterFacts) -> Contract:
    """A copy of `contract` that the rules score with `facts` (model_copy keeps them)."""
    copy = contract.model_copy()
    object.__setattr__(copy, _ATTR, facts)
    return copy


def effective_rating(contract: Contract) -> Any:
    """The register's rating when it has one, else the file's (SPEC 7)."""
    facts: RegisterFacts | None = contract.__dict__.get(_ATTR)
    if facts is not None and facts.rating is not None:
        return facts.rating
    return contract.counterparty.credit_rating


REGISTER_KEYS = ("status", "credit_limit", "exposure_other", "rating")


def parse_register_facts(raw: Any) -> RegisterFacts:
    """Register facts written by hand (a rule example's `register:`); ValueError names the
    key that is wrong and what is allowed."""
    from engine.domain.contract import CreditRating

    if not isinstance(raw, Mapping):
        raise ValueError("register: a mapping {status, credit_limit, exposure_other, rating}")
    unknown = sorted(set(raw) - set(REGISTER_KEYS))
    if unknown:
        raise ValueError(f"register: unknown key {unknown[0]} (known: {', '.join(REGISTER_KEYS)})")
    try:
        status = CounterpartyStatus(raw.get("status", "active"))
    except ValueError:
        allowed = ", ".join(s.value for s in CounterpartyStatus)
        raise ValueError(
            f"register.status: {raw.get('status')!r} is not one of {allowed}"
        ) from None
    numbers: dict[str, Decimal | None] = {}
    for key in ("credit_limit", "exposure_other"):
        value = raw.get(key)
        if value is None:
            numbers[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValueError(f"register.{key}: {value!r} is not a number")
        try:
            numbers[key] = Decimal(str(value))
        except ArithmeticError:
            raise ValueError(f"register.{key}: {value!r} is not a number") from None
        if numbers[key] < 0:  # type: ignore[operator]
            raise ValueError(f"register.{key}: must be >= 0")
    rating = raw.get("rating")
    try:
        parsed_rating = None if rating is None else CreditRating(rating)
    except ValueError:
        raise ValueError(
            f"register.rating: {rating!r} is not a credit rating (AAA ... D)"
        ) from None
    return RegisterFacts(
        status=status,
        credit_limit=numbers["credit_limit"],
        exposure_other=numbers["exposure_other"] or Decimal(0),
        rating=parsed_rating,
    )
