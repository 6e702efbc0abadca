from __future__ import annotations

import pytest

from engine.services.runtime import Runtime
from tests.integration.lists.support import seed_contracts
from tests.integration.workflow.support import prepare


@pytest.fixture
def lrt(rt: Runtime) -> Runtime:
    """Shipped workflows, the test people, the test evaluator and six contracts."""
    prepare(rt)
    seed_contracts(rt)
    return rt
