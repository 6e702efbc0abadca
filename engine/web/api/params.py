"""Path and query parameter types shared by the API routes (checked before any query)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from engine.domain.contract import CONTRACT_ID_PATTERN

ContractCode = Annotated[
    str,
    Path(pattern=CONTRACT_ID_PATTERN, max_length=64, description="contract id, e.g. SC-2026-0042"),
]
ObligationId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$", description="obligation id, e.g. OB-1")
]
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="task id")]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1, description="alert id")]
Name = Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$")]
