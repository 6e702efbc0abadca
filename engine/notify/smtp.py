"""SMTP delivery over one reused connection, with the failure classes the outbox needs.

- `SmtpUnavailable`: the server cannot be reached or refuses the session (connection refused,
  dropped, STARTTLS or login failed) even after retries. Nothing was sent; the caller stops the
  batch and leaves every message pending for a later run.
- `TransientDeliveryError`: the server answered 4xx for this message even after retries.
- `PermanentDeliveryError`: the server answered 5xx; `reply` holds its words for the operator.

Retries back off exponentially (`backoff`, `2*backoff`, ...) inside one batch; across runs the
outbox row itself is the retry record.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import Message
from types import TracebackType


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0


class DeliveryError(Exception):
    """A message was not delivered; `reply` is what the server (or the network) said."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class TransientDeliveryError(DeliveryError):
    """Try again later (4xx, or the connection broke)."""


class SmtpUnavailable(TransientDeliveryError):
    """No usable session with the server: stop the batch, keep everything pending."""


class PermanentDeliveryError(DeliveryError):
    """The server refused the message for good (5xx)."""


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"


class SmtpSender:
    """One SMTP session reused for a batch of messages (reconnects after a dropped connection).

    Use as a context manager; the connection opens on the first `send`.
    """

    def __init__(
        self,
        config: SmtpConfig,
        *,
        retries: int = 3,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self._conn: smtplib.SMTP | None = None
        self.connections_opened = 0

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None

    def _connect(self) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        cfg = self.config
        conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        try:
            conn.ehlo()
            if cfg.starttls:
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if cfg.user:
                conn.login(cfg.user, cfg.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            conn.close()
            raise SmtpUnavailable(
                f"login as {cfg.user!r} refused: {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self.connections_opened += 1
        return conn

    def send(self, msg: Message, from_addr: str, to_addrs: Sequence[str]) -> dict[str, str]:
        """Deliver `msg`; returns recipients the server refused while accepting others.

        Raises one of the `DeliveryError` classes when nothing was delivered.
        """
        last: TransientDeliveryError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                conn = self._connect()
                refused = conn.send_message(msg, from_addr, list(to_addrs))
                return {addr: _reply(code, text) for addr, (code, text) in refused.items()}
            except SmtpUnavailable:
                raise
            except smtplib.SMTPRecipientsRefused as exc:
                replies = {a: _reply(c, t) for a, (c, t) in exc.recipients.items()}
                summary = "; ".join(f"{a}: {r}" for a, r in sorted(replies.items()))
                self._reset()
                if all(code >= 500 for code, _ in exc.recipients.values()):
                    raise PermanentDeliveryError(summary) from None
                last = TransientDeliveryError(summary)
            except smtplib.SMTPResponseException as exc:
                reply = _reply(exc.smtp_code, exc.smtp_error)
                if exc.smtp_code == 421 or isinstance(exc, smtplib.SMTPConnectError):
                    self._drop()
                    last = SmtpUnavailable(reply)
                elif exc.smtp_code >= 500:
                    self._reset()
                    raise PermanentDeliveryError(reply) from None
                else:
                    self._reset()
                    last = TransientDeliveryError(reply)
            except (smtplib.SMTPException, OSError) as exc:
                # Connection refused, reset, timed out or dropped mid-session.
                self._drop()
                last = SmtpUnavailable(
                    f"{self.config.host}:{self.config.port}: {type(exc).__name__}: {exc}".rstrip(
                        ": "
                    )
                )
        assert last is not None
        raise last

    def _reset(self) -> None:
        """Clear a half-finished transaction so the session can carry the next message."""
        if self._conn is None:
            return
        try:
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()
