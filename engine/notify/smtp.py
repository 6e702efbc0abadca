"""SMTP delivery over one reused connection, with the failure classes the outbox needs.

- `SmtpUnavailable`: the server cannot be reached or refuses the session (connection refused,
  dropped, STARTTLS or login failed) even after retries. Nothing was sent; the caller stops the
  batch and leaves every message pending for a later run.
- `TransientDeliveryError`: the server answered 4xx for this message even after retries.
- `PermanentDeliveryError`: the server answered 5xx; `reply` holds its words for the operator.

Retries back off exponentially (`backoff`, `2*backoff`, ...) inside one batch; across runs the
outbox row itself is the retry record.

`send` takes two hooks so the caller can use the time the server spends on a message
(a mail transaction is 3 + recipients round trips, each waiting on the server):
`before_data` runs just before the message's content goes out - the point after which the
server may accept it - and `meanwhile` runs once, while the server digests the content and
before its reply is read. The outbox sender waits for the previous message's "sent" mark in
the first and prepares the next message in the second.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")  # SMTP dot-stuffing (RFC 5321 4.5.2)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    ssl: bool = False  # implicit TLS from the first byte (SMTPS, port 465)


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
        if cfg.ssl:  # the certificate is checked as for STARTTLS: default CAs, host name
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=cfg.timeout, context=ssl.create_default_context()
            )
        else:
            conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        try:
            conn.ehlo()
            if cfg.starttls and not cfg.ssl:
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

    def send(
        self,
        data: bytes,
        from_addr: str,
        to_addrs: Sequence[str],
        *,
        before_data: Callable[[], None] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> dict[str, str]:
        """Deliver the message `data` (wire bytes, CRLF line ends); returns recipients the
        server refused while accepting others.

        Raises one of the `DeliveryError` classes when nothing was delivered. An exception
        from `before_data` abandons the message (the transaction is reset, nothing sent) and
        propagates; `meanwhile` runs at most once over all attempts and must not raise.
        """
        last: TransientDeliveryError | None = None
        hooks = _Hooks(before_data, meanwhile)
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                conn = self._connect()
                refused = _transaction(conn, data, from_addr, list(to_addrs), hooks)
                return {addr: _reply(code, text) for addr, (code, text) in refused.items()}
            except _HookFailed as exc:
                self._reset()
                raise exc.cause from None
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


class _HookFailed(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass
class _Hooks:
    before_data: Callable[[], None] | None
    meanwhile: Callable[[], None] | None

    def run_before_data(self) -> None:
        if self.before_data is not None:
            try:
                self.before_data()
            except Exception as exc:  # surfaced by `send` after resetting the session
                raise _HookFailed(exc) from exc

    def run_meanwhile(self) -> None:
        work, self.meanwhile = self.meanwhile, None  # once, even when the send is retried
        if work is not None:
            work()


def _rset(conn: smtplib.SMTP) -> None:
    """RSET, ignoring a server that already hung up (what `sendmail` does)."""
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        conn.rset()


def _has_non_ascii(addresses: Sequence[str]) -> bool:
    return not all(a.isascii() for a in addresses)


def _transaction(
    conn: smtplib.SMTP, data: bytes, from_addr: str, to_addrs: list[str], hooks: _Hooks
) -> dict[str, tuple[int, bytes]]:
    """`smtplib.SMTP.sendmail` step by step (same replies, same exceptions), with the hooks.

    Mirrors CPython's `sendmail`: MAIL (with SIZE when offered), RCPT per recipient, DATA;
    421 closes the session; any other refusal resets it. Addresses that are not ASCII need
    the server's SMTPUTF8, as `send_message` requires.
    """
    conn.ehlo_or_helo_if_needed()
    options: list[str] = []
    if conn.does_esmtp:
        if conn.has_extn("size"):
            options.append(f"size={len(data)}")
        if _has_non_ascii([from_addr, *to_addrs]):
            if not conn.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError(
                    "One or more source or delivery addresses require internationalized "
                    "email support, but the server does not advertise the required SMTPUTF8 "
                    "capability"
                )
            options += ["SMTPUTF8", "BODY=8BITMIME"]
    code, resp = conn.mail(from_addr, options)
    if code != 250:
        if code == 421:
            conn.close()
        else:
            _rset(conn)
        raise smtplib.SMTPSenderRefused(code, resp, from_addr)
    refused: dict[str, tuple[int, bytes]] = {}
    for each in to_addrs:
        code, resp = conn.rcpt(each)
        if code not in (250, 251):
            refused[each] = (code, resp)
        if code == 421:
            conn.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(to_addrs):
        _rset(conn)
        raise smtplib.SMTPRecipientsRefused(refused)
    hooks.run_before_data()
    conn.putcmd("data")
    code, resp = conn.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, resp)
    body = _DOT_AT_LINE_START.sub(b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    conn.send(body + b".\r\n")
    hooks.run_meanwhile()
    code, resp = conn.getreply()
    if code != 250:
        if code == 421:
            conn.close()
        else:
            _rset(conn)
        raise smtplib.SMTPDataError(code, resp)
    return refused
