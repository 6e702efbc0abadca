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
    # The after-signing operations (SPEC section 8) are generated against too.
    paths = {(op.method.upper(), op.path) for op in operations}
    assert {
        ("POST", "/api/contracts/{code}/amendments"),
        ("POST", "/api/contracts/{code}/renew"),
        ("POST", "/api/contracts/{code}/terminate"),
    } <= paths, sorted(p for p in paths if "contracts" in p[1])
    assert {
        ("GET", "/api/counterparties"),
        ("POST", "/api/counterparties"),
        ("GET", "/api/counterparties/{key}"),
        ("PATCH", "/api/counterparties/{key}"),
    } <= paths
    # What a script needs that was on the CLI only (issue 19 item 6).
    assert {
        ("POST", "/api/contracts/{code}/obligations/{obligation}/waive"),
        ("GET", "/api/contracts/{code}/history"),
        ("GET", "/api/tasks/{task_id}"),
        ("POST", "/api/tasks/{task_id}/reassign"),
        ("GET", "/api/delegations"),
        ("POST", "/api/delegations"),
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
            elif response.status_code >= 400 and case.formatted_path.startswith("/api"):
                # What the document promises: the status is declared, the body is ErrorBody.
                declared = case.operation.definition.raw.get("responses", {})
                body = response.json()
                if str(response.status_code) not in declared or set(body) != {
                    "error",
                    "problems",
                }:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code} "
                        f"undeclared or not ErrorBody: {response.text[:200]}"
                    )

        run()
    assert not failures, "\n".join(failures[:10])
    assert seen.get(2, 0) > len(operations), f"too few requests got through: {seen}"


def test_the_document_declares_every_error_status_with_the_error_body(web_rt: Runtime) -> None:
    document = create_app(web_rt).openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error", "problems"]
    for path, operations in document["paths"].items():
        if not path.startswith("/api"):
            continue
        for method, operation in operations.items():
            for code in ("400", "401", "403", "404", "409", "413", "422", "503"):
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)


def test_operation_ids_are_readable_and_unique(web_rt: Runtime) -> None:
    document = create_app(web_rt).openapi()
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert not [i for i in ids if "_api_" in i or i.endswith(("_get", "_post", "_put"))], ids
    assert {"submit_contract", "act_on_task", "get_contract", "list_tasks"} <= set(ids)
    assert {
        "waive_obligation",
        "get_contract_history",
        "get_task",
        "reassign_task",
        "create_delegation",
        "list_delegations",
    } <= set(ids)


def test_a_created_contract_answers_201_with_its_location(web_rt: Runtime) -> None:
    from fastapi.testclient import TestClient

    from engine.definitions.contracts import load_contract_file

    body = load_contract_file(EXAMPLES / "SC-2026-0042.yaml").model_dump(mode="json")
    with TestClient(create_app(web_rt)) as client:
        response = client.post("/api/contracts", json=body, headers=bearer(web_rt, "alice"))
        assert response.status_code == 201, response.text
        assert response.headers["Location"] == "/api/contracts/SC-2026-0042"
        assert (
            client.get(response.headers["Location"], headers=bearer(web_rt, "alice")).json()["id"]
            == "SC-2026-0042"
        )
