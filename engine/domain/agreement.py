"""Do the payment terms agree with each other? (docs/contract-format.md, "Terms that must
agree".)

A contract states what is paid three times over: the `amount`, the `installments` of its
payment terms, and the `payment` obligations of the paying party (the counterparty when
we sell, us when we buy). When they disagree, someone will be alerted about the wrong sum
or chase a payment on the wrong day. Many real schedules are partial on purpose (a
prepayment settled at signing, a fee billed in two contracts), so disagreement is a named
*warning* shown by `contracts validate`, `submit`, `show` and the contract page, not a
refusal:

- `payments_do_not_add_up`: the paying party's payment obligations all carry amounts and
  their sum differs from `amount` by more than a cent;
- `installments_do_not_match`: installments are given and the paying party has payment
  obligations, but their number differs, or (paired in due-date order) a due date
  differs, or an obligation's amount differs from its installment's share of `amount`
  by more than a cent.

Works on raw data (a mapping as read from the file or stored terms), so it checks what a
person wrote, field path by field path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from engine.domain.raw_values import as_date, as_decimal

CENT = Decimal("0.01")


class TermWarning(BaseModel):
    """A named warning about terms that do not agree: `field` is a path in the file."""

    model_config = ConfigDict(frozen=True)

    code: str
    field: str
    message: str

    def line(self) -> str:
        return f"{self.field}: {self.message} [{self.code}]"


def _money(value: Decimal, currency: str) -> str:
    return f"{value:,.2f} {currency}".strip()


def _value(item: Any) -> Any:
    return getattr(item, "value", item)


def term_warnings(data: Mapping[str, Any]) -> list[TermWarning]:
    """Every disagreement between amount, installments and payment obligations."""
    amount = as_decimal(data.get("amount"))
    if amount is None or amount <= 0:
        return []
    currency = str(data.get("currency") or "")
    payer = "us" if _value(data.get("direction")) == "buy" else "counterparty"
    payer_words = "our" if payer == "us" else "the counterparty's"
    obligations = [o for o in data.get("obligations") or [] if isinstance(o, Mapping)]
    payments = [
        (i, o)
        for i, o in enumerate(obligations)
        if _value(o.get("kind")) == "payment" and _value(o.get("party")) == payer
    ]
    out: list[TermWarning] = []
    if payments:
        amounts = [as_decimal(o.get("amount")) for _, o in payments]
        if all(a is not None for a in amounts):
            total = sum((a for a in amounts if a is not None), Decimal(0))
            if abs(total - amount) > CENT:
                ids = ", ".join(str(o.get("id")) for _, o in payments)
                out.append(
                    TermWarning(
                        code="payments_do_not_add_up",
                        field="obligations",
                        message=(
                            f"{payer_words} payment obligations ({ids}) add up to "
                            f"{_money(total, currency)}, not the contract amount "
                            f"{_money(amount, currency)}"
                        ),
                    )
                )
    terms = data.get("payment_terms")
    installments = (
        [i for i in terms.get("installments") or [] if isinstance(i, Mapping)]
        if isinstance(terms, Mapping)
        else []
    )
    if installments and payments:
        out.extend(_installment_warnings(installments, payments, amount, currency, payer_words))
    return out


def _installment_warnings(
    installments: list[Mapping[str, Any]],
    payments: list[tuple[int, Mapping[str, Any]]],
    amount: Decimal,
    currency: str,
    payer_words: str,
) -> list[TermWarning]:
    code = "installments_do_not_match"
    if len(installments) != len(payments):
        ids = ", ".join(str(o.get("id")) for _, o in payments)
        return [
            TermWarning(
                code=code,
                field="payment_terms.installments",
                message=(
                    f"{len(installments)} installment(s) but {len(payments)} of "
                    f"{payer_words} payment obligations ({ids})"
                ),
            )
        ]
    far = dt.date.max
    by_due = sorted(enumerate(installments), key=lambda p: as_date(p[1].get("due")) or far)
    paid = sorted(payments, key=lambda p: as_date(p[1].get("due")) or far)
    out = []
    for (n, inst), (i, ob) in zip(by_due, paid, strict=True):
        label = f"installment {n + 1}" + (f" ({inst.get('label')})" if inst.get("label") else "")
        due, ob_due = as_date(inst.get("due")), as_date(ob.get("due"))
        if due and ob_due and due != ob_due:
            out.append(
                TermWarning(
                    code=code,
                    field=f"obligations[{i}].due",
                    message=f"{ob.get('id')} is due {ob_due}, but {label} is due {due}",
                )
            )
        percent, ob_amount = as_decimal(inst.get("percent")), as_decimal(ob.get("amount"))
        if percent is not None and ob_amount is not None:
            share = (amount * percent / 100).quantize(CENT)
            if abs(share - ob_amount) > CENT:
                out.append(
                    TermWarning(
                        code=code,
                        field=f"obligations[{i}].amount",
                        message=(
                            f"{ob.get('id')} is {_money(ob_amount, currency)}, but {label} "
                            f"is {percent.normalize():f}% of the amount: {_money(share, currency)}"
                        ),
                    )
                )
    return out
