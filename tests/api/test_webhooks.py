"""Webhooks end to end: admin routes, Standard Webhooks signatures checked by the
`standardwebhooks` library on a real loopback receiver, retries, SSRF defence."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select
from standardwebhooks import Webhook

from app.core import outbound
from app.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from app.services import audit
from app.services.webhooks import dispatcher as dispatcher_module
from app.services.webhooks.signing import new_secret, seal
from tests.conftest import Harness, HarnessFactory
from tests.support.flows import API, bearer
from tests.support.webhook_receiver import Receiver, webhook_receiver
from tests.support.webhooks import HOOKS, admin_headers, create_endpoint, until


@pytest.fixture
def receiver() -> Any:
    with webhook_receiver() as running:
        yield running


@pytest.fixture
async def loopback(make_harness: HarnessFactory) -> Harness:
    """An app allowed to post to loopback receivers (never the default)."""
    return await make_harness(WEBHOOK_ALLOW_PRIVATE_URLS=True)


async def driven(
    make_harness: HarnessFactory, **settings: Any
) -> tuple[Harness, dispatcher_module.Dispatcher, dict[str, str]]:
    """An app allowed to post to loopback, its dispatcher stopped (the test runs the
    rounds itself), and an admin's headers."""
    harness = await make_harness(WEBHOOK_ALLOW_PRIVATE_URLS=True, **settings)
    dispatcher = harness.app.state.webhook_dispatcher
    await dispatcher.stop()
    return harness, dispatcher, await admin_headers(harness)


def verified(secret: str, request: Any) -> dict[str, Any]:
    """What a receiver using the Standard Webhooks library accepts."""
    payload: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return payload


async def test_admin_manages_endpoints(loopback: Harness, receiver: Receiver) -> None:
    headers = await admin_headers(loopback)
    created = await create_endpoint(loopback, headers, receiver.url, ["login_success"])
    assert created["secret"].startswith("whsec_")
    assert set(created) == {"id", "url", "events", "description", "enabled", "created_at", "secret"}
    hook = f"{HOOKS}/{created['id']}"

    listed = (await loopback.client.get(HOOKS, headers=headers)).json()
    assert [item["id"] for item in listed] == [created["id"]]
    assert "secret" not in listed[0]
    one = await loopback.client.get(hook, headers=headers)
    assert one.status_code == 200 and one.json()["events"] == ["login_success"]

    patched = await loopback.client.patch(
        hook,
        json={"events": ["register", "login_failed"], "description": "CRM", "enabled": False},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["events"] == ["login_failed", "register"]
    assert patched.json()["description"] == "CRM" and patched.json()["enabled"] is False

    async with loopback.ctx.sessionmaker() as db:
        row = await db.get(WebhookEndpoint, uuid.UUID(created["id"]))
    assert row is not None and created["secret"] not in row.secret  # stored encrypted

    assert (await loopback.client.delete(hook, headers=headers)).status_code == 204
    assert (await loopback.client.get(hook, headers=headers)).status_code == 404
    assert (await loopback.client.delete(hook, headers=headers)).status_code == 404


async def test_only_admins_and_never_api_keys(loopback: Harness) -> None:
    email = await loopback.user()
    tokens = await loopback.login(email)
    response = await loopback.client.get(HOOKS, headers=bearer(tokens["access_token"]))
    assert response.status_code == 403 and response.json()["code"] == "forbidden"

    _, admin = await loopback.admin()
    made = await loopback.client.post(
        f"{API}/users/api-keys", json={"name": "ops"}, headers=bearer(admin["access_token"])
    )
    key = made.json()["key"]
    response = await loopback.client.get(HOOKS, headers=bearer(key))
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    response = await loopback.client.get(f"{API}/admin/users", headers=bearer(key))
    assert response.status_code == 403


BAD_INPUT: list[tuple[dict[str, Any], int, str | None]] = [
    ({"url": "ftp://example.com/x", "events": ["*"]}, 400, "invalid_webhook_url"),
    ({"url": "javascript:alert(1)", "events": ["*"]}, 400, "invalid_webhook_url"),
    ({"url": "http://user:pw@93.184.216.34/", "events": ["*"]}, 400, "invalid_webhook_url"),
    ({"url": "http://bücher.example/", "events": ["*"]}, 400, "invalid_webhook_url"),
    ({"url": "http://127.0.0.1:8080/", "events": ["*"]}, 400, "invalid_webhook_url"),
    ({"url": "http://localhost/", "events": ["*"]}, 400, "invalid_webhook_url"),
    ({"url": "http://10.1.2.3/", "events": ["*"]}, 400, "invalid_webhook_url"),
    ({"url": "http://169.254.169.254/latest", "events": ["*"]}, 400, "invalid_webhook_url"),
    ({"url": "http://[::1]/", "events": ["*"]}, 400, "invalid_webhook_url"),
    ({"url": "http://[::ffff:10.0.0.1]/", "events": ["*"]}, 400, "invalid_webhook_url"),
    ({"url": "http://0.0.0.0/", "events": ["*"]}, 400, "invalid_webhook_url"),
    ({"url": "https://93.184.216.34/h", "events": ["no_such_event"]}, 422, None),
    ({"url": "https://93.184.216.34/h", "events": []}, 422, None),
    ({"url": "https://93.184.216.34/h", "events": ["*"], "description": "x" * 501}, 422, None),
    ({"url": "https://93.184.216.34/h", "events": ["*"], "extra": 1}, 422, None),
    ({"url": "https://93.184.216.34/" + "a" * 2100, "events": ["*"]}, 422, None),
]


async def test_bad_input_is_a_clear_4xx(harness: Harness) -> None:
    headers = await admin_headers(harness)
    for body, status, code in BAD_INPUT:
        response = await harness.client.post(HOOKS, json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        if code:
            assert response.json()["code"] == code, body


async def test_a_public_address_is_accepted_and_patch_checks_urls_too(harness: Harness) -> None:
    headers = await admin_headers(harness)
    created = await create_endpoint(harness, headers, "https://93.184.216.34/hooks", ["register"])
    response = await harness.client.patch(
        f"{HOOKS}/{created['id']}", json={"url": "http://192.168.1.1/"}, headers=headers
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_webhook_url"


async def test_a_login_is_delivered_signed_and_without_private_data(
    loopback: Harness, receiver: Receiver
) -> None:
    headers = await admin_headers(loopback)
    email = await loopback.user()
    created = await create_endpoint(loopback, headers, receiver.url, ["login_success"])
    await loopback.client.post(
        f"{API}/auth/login",
        json={"email": email, "password": "correct horse battery staple"},
        headers={"User-Agent": "SecretBrowser/1.0"},
    )
    await until(lambda: len(receiver.requests) == 1)
    request = receiver.requests[0]
    payload = verified(created["secret"], request)
    assert payload["type"] == "login_success"
    assert set(payload["data"]) == {"audit_id", "user_id", "actor_id", "details"}
    datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    assert "SecretBrowser" not in request.body and "127.0.0.1" not in request.body
    assert "correct horse" not in request.body and email not in request.body

    async def delivered() -> dict[str, Any]:
        page = await loopback.client.get(f"{HOOKS}/{created['id']}/deliveries", headers=headers)
        assert page.status_code == 200
        result: dict[str, Any] = page.json()
        return result

    for _ in range(500):
        page = await delivered()
        if page["items"] and page["items"][0]["status"] == "delivered":
            break
        await asyncio.sleep(0.01)
    assert page["total"] == 1 and page["page"] == 1 and page["size"] == 50
    item = page["items"][0]
    assert item["status"] == "delivered" and item["attempts"] == 1
    assert item["last_status_code"] == 200 and item["delivered_at"] is not None
    assert request.headers["webhook-id"] == f"msg_{uuid.UUID(item['id']).hex}"


async def test_only_subscribed_events_reach_an_endpoint(
    loopback: Harness, receiver: Receiver
) -> None:
    headers = await admin_headers(loopback)
    await create_endpoint(loopback, headers, receiver.url, ["register"])
    email = await loopback.user()  # register + email_verified
    await loopback.login(email)  # login_success: not subscribed
    await until(lambda: len(receiver.of_type("register")) == 1)
    await loopback.app.state.webhook_dispatcher.run_once()
    assert [json.loads(r.body)["type"] for r in receiver.requests] == ["register"]


async def test_a_refresh_is_delivered_like_any_event(loopback: Harness, receiver: Receiver) -> None:
    """Refresh writes its audit row on a fast path of its own (one statement on
    PostgreSQL, the writer thread on SQLite); its outbox row comes with it."""
    headers = await admin_headers(loopback)
    created = await create_endpoint(loopback, headers, receiver.url, ["token_refreshed"])
    pair = await loopback.login(await loopback.user())
    refreshed = await loopback.client.post(
        f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200
    await until(lambda: len(receiver.requests) == 1)
    payload = verified(created["secret"], receiver.requests[0])
    assert payload["type"] == "token_refreshed"
    assert set(payload["data"]["details"]) == {"session_id"}
    assert pair["refresh_token"] not in receiver.requests[0].body


async def test_a_rolled_back_action_sends_nothing(loopback: Harness, receiver: Receiver) -> None:
    headers = await admin_headers(loopback)
    await create_endpoint(loopback, headers, receiver.url, ["*"])
    async with loopback.ctx.sessionmaker() as db:
        audit.record(db, loopback.ctx.clock, AuditEvent.USER_UPDATED, details={"n": "rolled"})
        await db.flush()
        await db.rollback()
    async with loopback.ctx.sessionmaker() as db:
        audit.record(db, loopback.ctx.clock, AuditEvent.USER_UPDATED, details={"n": "kept"})
        await db.commit()
    await until(lambda: len(receiver.requests) == 1)
    await loopback.app.state.webhook_dispatcher.run_once()
    assert len(receiver.requests) == 1
    assert json.loads(receiver.requests[0].body)["data"]["details"] == {"n": "kept"}


async def test_rotation_signs_with_both_secrets_for_24_hours(
    loopback: Harness, receiver: Receiver
) -> None:
    headers = await admin_headers(loopback)
    created = await create_endpoint(loopback, headers, receiver.url, ["password_changed"])
    hook = f"{HOOKS}/{created['id']}"
    rotated = await loopback.client.post(f"{hook}/rotate-secret", headers=headers)
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != created["secret"]

    assert (await loopback.client.post(f"{hook}/test", headers=headers)).status_code == 202
    await until(lambda: len(receiver.requests) == 1)
    request = receiver.requests[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verified(created["secret"], request)["type"] == "webhook.test"
    assert verified(new, request)["type"] == "webhook.test"

    loopback.clock.advance(hours=24, seconds=1)
    headers = await admin_headers(loopback)  # the first admin's token has expired
    assert (await loopback.client.post(f"{hook}/test", headers=headers)).status_code == 202
    await until(lambda: len(receiver.requests) == 2)
    later = receiver.requests[1]
    signatures = later.headers["webhook-signature"].split(" ")
    msg_id, timestamp = later.headers["webhook-id"], later.headers["webhook-timestamp"]
    at = datetime.fromtimestamp(int(timestamp), UTC)
    # (Signed a day ahead of the wall clock, so checked without the library's time window.)
    assert signatures == [Webhook(new).sign(msg_id, at, later.body)]
    assert Webhook(created["secret"]).sign(msg_id, at, later.body) not in signatures


async def test_test_event_and_unknown_endpoint(loopback: Harness, receiver: Receiver) -> None:
    headers = await admin_headers(loopback)
    created = await create_endpoint(loopback, headers, receiver.url, ["register"])
    response = await loopback.client.post(f"{HOOKS}/{created['id']}/test", headers=headers)
    assert response.status_code == 202 and response.json()["event"] == "webhook.test"
    await until(lambda: len(receiver.requests) == 1)
    assert verified(created["secret"], receiver.requests[0])["type"] == "webhook.test"
    missing = f"{HOOKS}/{uuid.uuid4()}"
    for method, path in [("post", "/test"), ("post", "/rotate-secret"), ("get", "/deliveries")]:
        response = await getattr(loopback.client, method)(missing + path, headers=headers)
        assert response.status_code == 404, path


async def test_failures_retry_with_backoff_then_fail(
    make_harness: HarnessFactory, receiver: Receiver
) -> None:
    harness, dispatcher, headers = await driven(make_harness, WEBHOOK_MAX_ATTEMPTS=3)
    created = await create_endpoint(harness, headers, receiver.url, ["password_changed"])
    receiver.replies.extend([500, 503, 500, 500])
    await harness.client.post(f"{HOOKS}/{created['id']}/test", headers=headers)

    async def state() -> WebhookDelivery:
        async with harness.ctx.sessionmaker() as db:
            rows = (await db.exec(select(WebhookDelivery))).all()
        assert len(rows) == 1, [(r.event, r.endpoint_id, r.body[:80]) for r in rows]
        return rows[0]

    await dispatcher.run_once()
    first = await state()
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
    wait = (first.next_attempt_at - harness.clock.now()).total_seconds()
    assert 2.5 <= wait <= 7.5  # 5 s base, jittered by +-50%
    await dispatcher.run_once()
    assert len(receiver.requests) == 1  # not due yet

    harness.clock.advance(seconds=wait)
    await dispatcher.run_once()
    second = await state()
    assert (second.attempts, second.last_status_code) == (2, 503)
    wait = (second.next_attempt_at - harness.clock.now()).total_seconds()
    assert 5 <= wait <= 15  # doubled
    harness.clock.advance(seconds=wait)
    await dispatcher.run_once()
    last = await state()
    assert (last.status, last.attempts) == ("failed", 3)
    assert len(set(receiver.ids())) == 1 and len(receiver.requests) == 3  # same webhook-id


async def test_redirects_are_not_followed(loopback: Harness, receiver: Receiver) -> None:
    headers = await admin_headers(loopback)
    created = await create_endpoint(loopback, headers, receiver.url, ["password_changed"])
    receiver.replies.append((302, {"Location": receiver.url + "/elsewhere"}, b""))
    await loopback.client.post(f"{HOOKS}/{created['id']}/test", headers=headers)
    await until(lambda: len(receiver.requests) >= 1)
    await loopback.app.state.webhook_dispatcher.run_once()
    assert [r.path for r in receiver.requests] == ["/hooks"]
    page = await loopback.client.get(f"{HOOKS}/{created['id']}/deliveries", headers=headers)
    item = page.json()["items"][0]
    assert item["status"] == "pending" and item["last_status_code"] == 302


async def test_a_large_answer_is_cut_short(loopback: Harness, receiver: Receiver) -> None:
    headers = await admin_headers(loopback)
    created = await create_endpoint(loopback, headers, receiver.url, ["password_changed"])
    receiver.replies.append((200, {}, b"x" * 5_000_000))
    await loopback.client.post(f"{HOOKS}/{created['id']}/test", headers=headers)
    page: dict[str, Any] = {}

    async def check() -> None:
        nonlocal page
        response = await loopback.client.get(f"{HOOKS}/{created['id']}/deliveries", headers=headers)
        page = response.json()

    for _ in range(500):
        await check()
        if page["items"][0]["status"] == "delivered":
            break
        await asyncio.sleep(0.01)
    assert page["items"][0]["status"] == "delivered"


async def test_a_slow_receiver_times_out(
    loopback: Harness, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatcher_module, "DELIVERY_TIMEOUT_SECONDS", 0.2)
    dispatcher = loopback.app.state.webhook_dispatcher
    await dispatcher.stop()
    headers = await admin_headers(loopback)
    created = await create_endpoint(loopback, headers, receiver.url, ["password_changed"])
    receiver.replies.append("hang")
    await loopback.client.post(f"{HOOKS}/{created['id']}/test", headers=headers)
    await dispatcher.run_once()
    receiver.release()
    page = await loopback.client.get(f"{HOOKS}/{created['id']}/deliveries", headers=headers)
    item = page.json()["items"][0]
    assert item["status"] == "pending" and item["last_error"] == "timed out"


async def test_delivery_refuses_a_target_that_became_private(
    harness: Harness, receiver: Receiver
) -> None:
    """Checked again at delivery: a row saved while the host looked public (DNS changed)."""
    dispatcher = harness.app.state.webhook_dispatcher
    await dispatcher.stop()
    endpoint_id = uuid.uuid4()
    now = harness.clock.now()
    async with harness.ctx.sessionmaker() as db:
        db.add(
            WebhookEndpoint(
                id=endpoint_id,
                url=receiver.url,
                events=["*"],
                secret=seal(harness.ctx.cipher, new_secret(), endpoint_id),
                created_at=now,
            )
        )
        audit.record(db, harness.clock, AuditEvent.USER_UPDATED)
        await db.commit()
    await dispatcher.run_once()
    assert receiver.requests == []
    async with harness.ctx.sessionmaker() as db:
        delivery = (await db.exec(select(WebhookDelivery))).one()
    assert delivery.status == "pending" and (delivery.last_error or "").startswith("refused")


async def test_disabled_endpoints_get_nothing(loopback: Harness, receiver: Receiver) -> None:
    headers = await admin_headers(loopback)
    created = await create_endpoint(loopback, headers, receiver.url, ["*"])
    await loopback.client.patch(
        f"{HOOKS}/{created['id']}", json={"enabled": False}, headers=headers
    )
    await loopback.user()
    await loopback.app.state.webhook_dispatcher.run_once()
    assert receiver.requests == []


async def test_an_endpoint_deleted_during_an_attempt_is_harmless(
    loopback: Harness, receiver: Receiver
) -> None:
    dispatcher = loopback.app.state.webhook_dispatcher
    await dispatcher.stop()
    headers = await admin_headers(loopback)
    created = await create_endpoint(loopback, headers, receiver.url, ["password_changed"])
    receiver.replies.append("hang")
    await loopback.client.post(f"{HOOKS}/{created['id']}/test", headers=headers)
    attempt = asyncio.ensure_future(dispatcher.run_once())
    await until(lambda: len(receiver.requests) == 1)
    deleted = await loopback.client.delete(f"{HOOKS}/{created['id']}", headers=headers)
    assert deleted.status_code == 204
    receiver.release()
    await attempt  # its result has no row left to update, and that is fine
    async with loopback.ctx.sessionmaker() as db:
        assert (await db.exec(select(WebhookDelivery))).all() == []


async def test_a_secret_that_no_longer_decrypts_is_a_recorded_failure(
    make_harness: HarnessFactory, receiver: Receiver
) -> None:
    """Endpoints made under one pepper, a worker started under another: each attempt
    fails, is recorded and retried, and the round goes on."""
    first = await make_harness(WEBHOOK_ALLOW_PRIVATE_URLS=True)
    await first.app.state.webhook_dispatcher.stop()
    headers = await admin_headers(first)
    created = await create_endpoint(first, headers, receiver.url, ["register"])
    other = await make_harness(
        clock=first.clock,
        WEBHOOK_ALLOW_PRIVATE_URLS=True,
        PASSWORD_PEPPER="another-pepper-0123456789abcdef-0123456789abcdef",
    )
    dispatcher = other.app.state.webhook_dispatcher
    await dispatcher.stop()  # this test drives the rounds itself
    await first.client.post(f"{HOOKS}/{created['id']}/test", headers=headers)
    await dispatcher.run_once()
    async with other.ctx.sessionmaker() as db:
        (delivery,) = (await db.exec(select(WebhookDelivery))).all()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error is not None and "DATA_ENCRYPTION_KEY" in delivery.last_error
    assert receiver.requests == []


async def test_rotating_a_secret_that_no_longer_decrypts_mends_the_endpoint(
    make_harness: HarnessFactory, receiver: Receiver
) -> None:
    """Rotation is how an admin repairs an endpoint whose secret the current keys
    cannot open: the new secret alone signs (the old one is unknown), no 500."""
    first = await make_harness(WEBHOOK_ALLOW_PRIVATE_URLS=True)
    await first.app.state.webhook_dispatcher.stop()
    created = await create_endpoint(
        first, await admin_headers(first), receiver.url, ["password_changed"]
    )
    other = await make_harness(
        clock=first.clock,
        WEBHOOK_ALLOW_PRIVATE_URLS=True,
        PASSWORD_PEPPER="another-pepper-0123456789abcdef-0123456789abcdef",
    )
    headers = await admin_headers(other)
    hook = f"{HOOKS}/{created['id']}"
    rotated = await other.client.post(f"{hook}/rotate-secret", headers=headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert (await other.client.post(f"{hook}/test", headers=headers)).status_code == 202
    await until(lambda: len(receiver.requests) == 1)
    request = receiver.requests[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    assert verified(new, request)["type"] == "webhook.test"


async def test_one_attempt_raising_leaves_the_rest_of_the_round_recorded(
    make_harness: HarnessFactory, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness, dispatcher, headers = await driven(make_harness)
    good = await create_endpoint(harness, headers, receiver.url + "?good", ["*"])
    bad = await create_endpoint(harness, headers, receiver.url + "?bad", ["*"])
    send = outbound.post_pinned

    async def failing_for_bad(http: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.endswith("?bad"):
            raise ValueError("an error nobody expected")
        return await send(http, url, *args, **kwargs)

    monkeypatch.setattr(outbound, "post_pinned", failing_for_bad)
    for endpoint in (good, bad):
        await harness.client.post(f"{HOOKS}/{endpoint['id']}/test", headers=headers)
    await dispatcher.run_once()
    async with harness.ctx.sessionmaker() as db:
        rows = {str(r.endpoint_id): r for r in (await db.exec(select(WebhookDelivery))).all()}
    assert rows[good["id"]].status == "delivered" and len(receiver.requests) == 1
    assert (rows[bad["id"]].status, rows[bad["id"]].attempts) == ("pending", 1)
    assert rows[bad["id"]].last_error == "ValueError"


async def test_a_round_checks_each_endpoint_once(
    make_harness: HarnessFactory, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several messages to one endpoint in one round: its address is resolved and
    checked once, and every message goes to that address, signed."""
    harness, dispatcher, headers = await driven(make_harness)
    created = await create_endpoint(harness, headers, receiver.url, ["*"])
    resolve = outbound.resolve
    resolved: list[str] = []

    async def counting(url: str, **kwargs: Any) -> Any:
        resolved.append(url)
        return await resolve(url, **kwargs)

    monkeypatch.setattr(outbound, "resolve", counting)
    for _ in range(3):
        await harness.client.post(f"{HOOKS}/{created['id']}/test", headers=headers)
    await dispatcher.run_once()
    assert resolved == [receiver.url]
    assert len(receiver.requests) == 3
    for request in receiver.requests:
        assert verified(created["secret"], request)["type"] == "webhook.test"
    async with harness.ctx.sessionmaker() as db:
        rows = (await db.exec(select(WebhookDelivery))).all()
    assert sorted(row.status for row in rows) == ["delivered"] * 3


async def test_an_endpoint_whose_host_answers_slowly_holds_up_only_itself(
    make_harness: HarnessFactory, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness, dispatcher, headers = await driven(make_harness)
    slow = await create_endpoint(harness, headers, receiver.url + "?slow", ["*"])
    fast = await create_endpoint(harness, headers, receiver.url + "?fast", ["*"])
    resolve = outbound.resolve
    answer = asyncio.Event()

    async def slow_dns(url: str, **kwargs: Any) -> Any:
        if url.endswith("?slow"):
            await answer.wait()
        return await resolve(url, **kwargs)

    monkeypatch.setattr(outbound, "resolve", slow_dns)
    for endpoint in (slow, fast):
        await harness.client.post(f"{HOOKS}/{endpoint['id']}/test", headers=headers)
    round_ = asyncio.ensure_future(dispatcher.run_once())
    await until(lambda: len(receiver.requests) == 1)  # the fast one, while DNS hangs
    assert receiver.requests[0].path.endswith("?fast")
    answer.set()
    await round_
    assert sorted(r.path.rsplit("?", 1)[1] for r in receiver.requests) == ["fast", "slow"]
