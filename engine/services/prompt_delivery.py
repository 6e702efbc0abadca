"""Task emails go out within seconds, not at the next daily job (issue 13).

Two ways, both on the outbox the change was committed with:

- the CLI: a command whose transaction wrote outbox rows sends the due task emails right
  after it (`deliver_after_command`), one try, no backoff: a mail server that is down
  costs the command one refused connection and the rows stay `pending`;
- `contractflow serve`: a `PromptSender` thread per process, woken by every commit that
  wrote outbox rows (`Database.on_outbox_commit`) and every `notice_poll_seconds` (rows
  written by other processes, servers that were down). Delivery is the alert sender's
  (`engine.services.delivery.send_pending`): claimed rows are leased, so threads in
  several worker processes never send a row twice.

Nothing is lost either way: a row that could not be sent stays pending and any later
sender - the next command, the thread's next round, `contractflow alerts run` - sends it.
"""

from __future__ import annotations

import logging
import threading

from engine.services.delivery import SendResult, send_pending
from engine.services.runtime import Runtime
from engine.services.task_notices import NOTICE_KINDS

log = logging.getLogger("contractflow.notices")


def deliver_notices(rt: Runtime, *, retries: int = 0) -> SendResult:
    """Send every due task and hand-back email now."""
    return send_pending(rt, kinds=NOTICE_KINDS, retries=retries, backoff=0.2)


def deliver_after_command(rt: Runtime) -> SendResult | None:
    """What the CLI runs after a command: send if the command queued any email."""
    if not rt.db.outbox_commits:
        return None
    return deliver_notices(rt)


class PromptSender:
    """A daemon thread that sends task emails whenever a commit queued some."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="task-emails", daemon=True)
        self.rounds = 0

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> PromptSender:
        self.rt.db.on_outbox_commit(self.wake)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        poll = self.rt.settings.notice_poll_seconds
        while not self._stop.is_set():
            self._wake.wait(poll)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                result = deliver_notices(self.rt, retries=1)
            except Exception:  # a database hiccup must not end the thread
                log.exception("sending task emails failed; will try again")
                continue
            self.rounds += 1
            if result.unavailable:
                log.warning("task emails wait in the outbox: %s", result.unavailable)
