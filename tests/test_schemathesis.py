"""Property-based API checks (schemathesis) against a real server process.

Every operation of the OpenAPI document is called with generated input,
with a fresh admin token, and the answers must never be 5xx and must match
the documented statuses, content types and schemas.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from tests.conftest import empty_database
from tests.support.server import backend, running_server, server_env

ADMIN = ("fuzz-admin@example.com", "fuzzing passphrase 1")
# No 5xx, and every answer documented: status, content type, headers, body schema.
# (Not "positive data is accepted": a schema cannot say "not a common password".)
CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("fuzz")
    with empty_database(workdir) as database_url:
        env = server_env(
            DATABASE_URL=database_url,
            RATE_LIMIT_PER_MINUTE="1000000",
            AUTH_RATE_LIMIT_PER_MINUTE="1000000",
            ACCOUNT_LOCKOUT_THRESHOLD="1000000",
        )
        if os.environ.get("TEST_REDIS_URL"):
            env["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
            env["REDIS_KEY_PREFIX"] = f"test-fuzz-{os.getpid()}"
        backend("migrate", env=env, cwd=workdir)
        backend("create-admin", "--email", ADMIN[0], "--password", ADMIN[1], env=env, cwd=workdir)
        try:
            with running_server(env, workdir) as server:
                yield server.base
        finally:
            if env.get("REDIS_URL"):
                _delete_keys(env["REDIS_URL"], env["REDIS_KEY_PREFIX"])


def _delete_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="module")
def api_schema(live_server: str) -> Any:
    return schemathesis.openapi.from_url(f"{live_server}/openapi.json")


def test_every_operation_conforms(api_schema: Any, live_server: str) -> None:
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            token = httpx.post(
                f"{live_server}/api/v1/auth/login",
                json={"email": ADMIN[0], "password": ADMIN[1]},
            ).json()["access_token"]
            case.call_and_validate(
                base_url=live_server,
                headers={"Authorization": f"Bearer {token}"},
                checks=CHECKS,
            )

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # report every operation's failures
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
