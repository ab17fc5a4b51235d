"""Property-based fuzzing of every root field with Schemathesis (GraphQL mode): never a 5xx.

Schemathesis generates queries and mutations with arbitrary arguments from the committed SDL;
the running app must answer each with a GraphQL result or a 4xx, and no answer may carry an
``INTERNAL`` error (the masked form of a crash), which a status check alone would not see.
"""

from __future__ import annotations

from typing import Any

import pytest

from sybilgraph.api.schema_export import SCHEMA_FILE
from tests.api.api_support import ANALYST, VIEWER, ApiServer

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("key", [VIEWER, ANALYST], ids=["viewer", "analyst"])
def test_fuzzed_operations_never_fail_the_server(server: ApiServer, key: str) -> None:
    from hypothesis import HealthCheck, Phase, given, settings

    schema = schemathesis.graphql.from_file(SCHEMA_FILE.read_text(encoding="utf-8"))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    url = server.url + "/graphql"
    failures: list[str] = []

    def fuzz(operation: Any) -> None:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call(base_url=url, headers={"X-API-Key": key})
            if response.status_code >= 500 or '"INTERNAL"' in response.text:
                failures.append(f"{operation.label}: {response.status_code} {response.text[:300]} for {case.body!r}")

        check()

    for operation in operations:
        fuzz(operation)
    assert not failures, "\n".join(failures[:10])
