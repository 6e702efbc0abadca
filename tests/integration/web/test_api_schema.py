"""schemathesis against the OpenAPI schema: no generated request may cause a 500.

Requests carry an admin's token (the widest access, so generation reaches the services),
on a database with example contracts in it. Every operation gets a modest number of
generated cases so the run stays well under a minute per database.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.web.app import create_app
from tests.integration.web.support import bearer
from tests.support import EXAMPLES

EXAMPLES_PER_OPERATION = 5


def test_no_generated_request_causes_a_server_error(web_rt: Runtime) -> None:
    for name in ("SC-2026-0042.yaml", "SC-2026-0060.json"):
        lifecycle.submit(web_rt, EXAMPLES / name, "alice")
    headers = bearer(web_rt, "root")
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(web_rt))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16
    # The counterparty register's operations are generated against too (issue 11).
    paths = {(op.method.upper(), op.path) for op in operations}
    assert {
        ("GET", "/api/counterparties"),
        ("POST", "/api/counterparties"),
        ("GET", "/api/counterparties/{key}"),
        ("PATCH", "/api/counterparties/{key}"),
    } <= paths
    failures: list[str] = []
    seen: dict[int, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            response = case.call(headers=headers)
            seen[response.status_code // 100] = seen.get(response.status_code // 100, 0) + 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        run()
    assert not failures, "\n".join(failures[:10])
    assert seen.get(2, 0) > len(operations), f"too few requests got through: {seen}"
