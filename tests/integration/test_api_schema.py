"""Property-based requests generated from the API's own OpenAPI schema (schemathesis).

Every operation, with an admin key, against the real app over a real Anvil
and database. Valid requests (positive mode) must get responses that match
what the schema documents (status codes, content types, bodies) and never a
server error; invalid ones (negative mode) must never get a server error.
Schema-valid requests may still get a 422 problem: JSON Schema cannot say
everything the API checks (a receipt's internals, metadata without
floating-point numbers), so the "positive data accepted" check is left out.

The strategies are driven through hypothesis directly, one operation after
the other, with a bounded number of examples each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from docanchor.api import create_app
from docanchor.config import ANVIL_DEV_PRIVATE_KEY, Settings
from docanchor.keys import create_key
from tests.support.anvil import AnvilNode

WITHOUT_INPUTS = {
    "GET /v1/keys",
    "GET /v1/deployments",
    "POST /v1/batches",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
}
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 12, schemathesis.GenerationMode.NEGATIVE: 6}


@pytest.fixture
def api_schema(
    tmp_path: Path, database_url: str, anvil: AnvilNode, deployed: tuple[Any, str]
) -> tuple[Any, str]:
    cfg = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        rpc_url=anvil.rpc_url,
        contract_address=deployed[1],
        private_key=ANVIL_DEV_PRIVATE_KEY,
        confirmations=1,
        max_upload_bytes=64 * 1024,
        log_json=False,
    )
    app = create_app(cfg)
    key = create_key(app.state.ctx.service.store, role="admin", entity_ruc=None).secret
    return schemathesis.openapi.from_asgi("/openapi.json", app), key


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda m: m.value)
def test_generated_requests(api_schema: tuple[Any, str], mode: Any) -> None:
    schema, key = api_schema
    headers = {"Authorization": f"Bearer {key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13
    seen = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            nonlocal seen
            seen += 1
            if mode is schemathesis.GenerationMode.POSITIVE:
                case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
            else:
                response = case.call(headers=headers)
                case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Unsatisfiable:
            # Negative mode has nothing to break in an operation without inputs.
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
            assert operation.label in WITHOUT_INPUTS, operation.label
    assert seen >= len(operations) - len(WITHOUT_INPUTS)
