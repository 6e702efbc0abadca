from __future__ import annotations

import pytest

from engine.services.runtime import Runtime
from tests.integration.workflow.support import prepare


@pytest.fixture
def wrt(rt: Runtime) -> Runtime:
    """A runtime with the shipped workflows, the test people and the test evaluator."""
    return prepare(rt)
