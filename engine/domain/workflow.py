"""The workflow IR: what a checked workflow file means, frozen (SPEC section 3).

`engine.definitions.workflows` builds it from YAML after every check passed; the pure
machine in `engine.workflow` reads it. `when` conditions are kept as their source text
(checked at load, compiled once per process by `engine.expressions.compile_when`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.domain.people import Role

#: Actions a stage may name. `submit` leaves the entry stage, `complete` leaves a stage
#: that tracks obligations; the others are what reviewers do on tasks.
STAGE_ACTIONS = ("submit", "approve", "reject", "request_changes", "complete")
#: What a reviewer may do on a task.
TASK_ACTIONS = ("approve", "reject", "request_changes")

DUE_IN_PATTERN = re.compile(r"^\s*(\d+)\s*(h|d|bd)\s*$")


class DueIn(BaseModel):
    """An SLA: `12h` hours, `3d` calendar days, `2bd` business days (Mon-Fri minus holidays)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int = Field(gt=0, le=10000)
    unit: Literal["h", "d", "bd"]

    @property
    def text(self) -> str:
        return f"{self.amount}{self.unit}"

    @classmethod
    def parse(cls, text: str) -> DueIn | None:
        """`3d` -> DueIn(3, "d"); None when the text is not a duration."""
        match = DUE_IN_PATTERN.match(str(text))
        if match is None or int(match.group(1)) <= 0 or int(match.group(1)) > 10000:
            return None
        return cls(amount=int(match.group(1)), unit=match.group(2))


class TaskSpec(BaseModel):
    """One task entry of a stage: a role's part, opened when `when` holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    approvals: int | Literal["all"] = 1
    when: str | None = None
    due_in: DueIn | None = None
    escalate_to: Role | None = None


class RouteSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    when: str
    to: str


class StageSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    description: str = ""
    tasks: tuple[TaskSpec, ...] = ()
    actions: dict[str, str] = Field(default_factory=dict)
    routes: tuple[RouteSpec, ...] = ()
    tracks: Literal["obligations"] | None = None
    final: bool = False
    #: May the submitter approve tasks here? None = the default: no in approval stages (before
    #: the first `tracks` stage), yes afterwards (e.g. the evaluation of a signed contract).
    self_approval: bool | None = None


class WorkflowSpec(BaseModel):
    """A whole checked workflow. The first stage is where every contract starts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int = Field(gt=0)
    description: str = ""
    stages: tuple[StageSpec, ...]

    @property
    def first(self) -> StageSpec:
        return self.stages[0]

    def stage(self, stage_id: str) -> StageSpec:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)

    def approval_stages(self) -> frozenset[str]:
        """Stages reachable from the first without passing a `tracks` stage.

        These are where the contract itself is approved, so the submitter may not approve
        there (four eyes); stages after fulfilment (evaluation) are follow-up work.
        """
        seen: set[str] = set()
        todo = [self.first.id]
        while todo:
            sid = todo.pop()
            if sid in seen:
                continue
            stage = self.stage(sid)
            if stage.tracks is not None:
                continue
            seen.add(sid)
            todo.extend(stage.actions.values())
            todo.extend(r.to for r in stage.routes)
        return frozenset(seen)

    def self_approval_allowed(self, stage_id: str) -> bool:
        stage = self.stage(stage_id)
        if stage.self_approval is not None:
            return stage.self_approval
        return stage_id not in self.approval_stages()
