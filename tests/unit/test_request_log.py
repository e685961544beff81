"""The request line is rendered by hand; it must be exactly what json.dumps of the
same fields (structlog's JSON renderer) would write."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from app.core.context import RequestContext, request_context_var
from app.core.logging import _RequestLog

ODD = ['a"b', "back\\slash", "tab\there", "new\nline", "é ü 中", "\x00\x1f", "</script>"]


def render(capsys: pytest.CaptureFixture[str], request_id: str | None, **fields: object) -> str:
    log = _RequestLog()
    token = request_context_var.set(RequestContext(request_id))
    try:
        log.write(**fields)  # type: ignore[arg-type]
    finally:
        request_context_var.reset(token)
    return capsys.readouterr().err


@pytest.mark.parametrize("odd", ODD)
@pytest.mark.parametrize("request_id", [None, "abc123", "x-\"'\\"])
@pytest.mark.parametrize("client", ["127.0.0.1", None, "2001:db8::1"])
def test_line_equals_json_dumps(
    capsys: pytest.CaptureFixture[str], odd: str, request_id: str | None, client: str | None
) -> None:
    fields = {
        "method": "GET",
        "route": f"/api/v1/{odd}",
        "status": 200,
        "duration_ms": 1.25,
        "client": client,
    }
    line = render(capsys, request_id, **fields)
    assert line.endswith("\n") and line.count("\n") == 1
    parsed = json.loads(line)
    expected = {
        **fields,
        "event": "request",
        **({"request_id": request_id} if request_id is not None else {}),
        "level": "info",
        "logger": "app.request",
        "timestamp": parsed["timestamp"],
    }
    assert line == json.dumps(expected) + "\n"


def test_timestamp_is_utc_now_with_microseconds(capsys: pytest.CaptureFixture[str]) -> None:
    before = datetime.now(UTC)
    stamps = [
        json.loads(
            render(capsys, None, method="GET", route="/", status=200, duration_ms=0.1, client=None)
        )["timestamp"]
        for _ in range(3)
    ]
    after = datetime.now(UTC)
    for stamp in stamps:
        assert stamp.endswith("Z")
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert before - timedelta(microseconds=1) <= moment <= after
    assert stamps == sorted(stamps)
