"""Property-based API checks (schemathesis) against a real server process.

Every operation of the OpenAPI document is called with generated input,
with a fresh admin token, and the answers must never be 5xx and must match
the documented statuses, content types and schemas.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from tests.conftest import TEST_PEPPER, TEST_SECRET_KEY, empty_database
from tests.support.smtp import free_port

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
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TEST_")},
            "DATABASE_URL": database_url,
            "SECRET_KEY": TEST_SECRET_KEY,
            "PASSWORD_PEPPER": TEST_PEPPER,
            "BCRYPT_ROUNDS": "4",
            "RATE_LIMIT_PER_MINUTE": "1000000",
            "AUTH_RATE_LIMIT_PER_MINUTE": "1000000",
            "ACCOUNT_LOCKOUT_THRESHOLD": "1000000",
            "LOG_LEVEL": "WARNING",
        }
        if os.environ.get("TEST_REDIS_URL"):
            env["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
            env["REDIS_KEY_PREFIX"] = f"test-fuzz-{os.getpid()}"
        cli = [sys.executable, "-m", "app.cli"]
        subprocess.run([*cli, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [*cli, "create-admin", "--email", ADMIN[0], "--password", ADMIN[1]],
            env=env,
            cwd=workdir,
            check=True,
            capture_output=True,
        )
        port = free_port()
        log = (workdir / "server.log").open("w")
        server = subprocess.Popen(  # noqa: S603
            [*cli, "serve", "--port", str(port)], env=env, cwd=workdir, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(base, server, workdir / "server.log")
            yield base
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            log.close()
            if env.get("REDIS_URL"):
                _delete_keys(env["REDIS_URL"], env["REDIS_KEY_PREFIX"])


def _wait(base: str, server: subprocess.Popen[Any], log: Path) -> None:
    for _ in range(200):
        if server.poll() is not None:
            pytest.fail(log.read_text())
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail(log.read_text())


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
