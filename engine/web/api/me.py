"""Who am I: the user behind the token or session."""

from __future__ import annotations

from fastapi import APIRouter

from engine.services.auth import Principal
from engine.web.deps import ApiUser

router = APIRouter(tags=["account"])


@router.get("/me", response_model=Principal)
def me(user: ApiUser) -> Principal:
    """The signed-in user and their roles."""
    return user
