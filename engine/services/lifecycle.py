"""Contract lifecycle use cases, as the CLI, the web app, flows and benchmarks call them.

The use cases live in modules named for them: `submission` (submit, revise), `decisions`
(act on approval tasks), `obligations` (fulfil, waive, revert), `delegation` (delegate, reassign),
`amendments` (amend a signed contract), `renewals` (renew, terminate), `withdrawal` (withdraw),
all on the shared plumbing of `unit_of_work` and the term storage of `revisions`. Each
call is one transaction: load the stored state, ask the pure machine
(`engine.workflow.machine.transition`) what happens, apply its effects, append one audit
event. Two people acting at once cannot both win: the loser gets `Conflict` (exit 1 /
HTTP 409) and nothing of theirs is stored.

This module keeps the names callers import; signatures here are stable.
"""

from __future__ import annotations

from engine.domain.views import ContractView
from engine.services.amendments import AMENDMENT_WORKFLOW, amend, amend_contract
from engine.services.decisions import EVALUATION_STAGE, act, decide
from engine.services.delegation import REASSIGN_ROLES, delegate, list_delegations, reassign
from engine.services.obligations import (
    OBLIGATION_ROLES,
    fulfil_obligation,
    revert_obligation,
    waive_obligation,
)
from engine.services.renewals import RENEW_ROLES, TERMINATE_ROLES, renew, terminate
from engine.services.submission import (
    DEFAULT_WORKFLOW,
    SUBMITTER_ROLES,
    revise,
    submit,
    submit_contract,
)
from engine.services.unit_of_work import Person, get_user
from engine.services.withdrawal import withdraw

__all__ = [
    "AMENDMENT_WORKFLOW",
    "DEFAULT_WORKFLOW",
    "EVALUATION_STAGE",
    "OBLIGATION_ROLES",
    "REASSIGN_ROLES",
    "RENEW_ROLES",
    "SUBMITTER_ROLES",
    "TERMINATE_ROLES",
    "ContractView",
    "Person",
    "act",
    "amend",
    "amend_contract",
    "decide",
    "delegate",
    "fulfil_obligation",
    "get_user",
    "list_delegations",
    "reassign",
    "renew",
    "revert_obligation",
    "revise",
    "submit",
    "submit_contract",
    "terminate",
    "waive_obligation",
    "withdraw",
]
