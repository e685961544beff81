"""The outbox under pressure: two workers racing for one outbox, a process killed with
events pending (before sending, and in the middle of an attempt), and pruning."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import func, select

from app.models import AuditEvent, WebhookDelivery, WebhookEvent
from app.services import audit
from app.services.maintenance import prune
from app.services.webhooks import dispatcher as dispatcher_module
from tests.conftest import TEST_PEPPER, TEST_SECRET_KEY, Harness, HarnessFactory
from tests.support.webhook_receiver import Receiver, webhook_receiver
from tests.support.webhooks import admin_headers, create_endpoint, until


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


async def commit_events(harness: Harness, count: int) -> None:
    async with harness.ctx.sessionmaker() as db:
        for n in range(count):
            audit.record(db, harness.clock, AuditEvent.USER_UPDATED, details={"n": n})
        await db.commit()


async def deliveries(harness: Harness) -> list[WebhookDelivery]:
    async with harness.ctx.sessionmaker() as db:
        return list((await db.exec(select(WebhookDelivery))).all())


async def test_two_workers_racing_attempt_each_delivery_once(
    make_harness: HarnessFactory, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatcher_module, "BATCH", 4)  # many small claims: they interleave
    one = await make_harness(WEBHOOK_ALLOW_PRIVATE_URLS=True)
    two = await make_harness(WEBHOOK_ALLOW_PRIVATE_URLS=True)  # own engine, own connections
    workers = [one.app.state.webhook_dispatcher, two.app.state.webhook_dispatcher]
    for worker in workers:
        await worker.stop()
    headers = await admin_headers(one)
    await create_endpoint(one, headers, receiver.url, ["user_updated"])
    await commit_events(one, 30)

    for _ in range(20):
        await asyncio.gather(*(worker.run_once() for worker in workers for _ in range(3)))
        rows = await deliveries(one)
        if len(rows) == 30 and all(row.status == "delivered" for row in rows):
            break
    rows = await deliveries(one)
    assert len(rows) == 30 and {row.status for row in rows} == {"delivered"}
    assert {row.attempts for row in rows} == {1}
    ids = receiver.ids()
    assert len(ids) == 30 and len(set(ids)) == 30  # no message sent twice
    numbers = sorted(json.loads(r.body)["data"]["details"]["n"] for r in receiver.requests)
    assert numbers == list(range(30))


CRASHING_WORKER = """
import asyncio, os, signal, sys
from sqlmodel import select
from app.config import Settings
from app.main import create_app
from app.models import AuditEvent, WebhookDelivery
from app.services import audit

async def commit(ctx, batch):
    async with ctx.sessionmaker() as db:
        for n in range(3):
            audit.record(db, ctx.clock, AuditEvent.USER_UPDATED, details={"batch": batch, "n": n})
        await db.commit()

async def main() -> None:
    settings = Settings(
        _env_file=None, DATABASE_URL=sys.argv[1], SECRET_KEY=os.environ["K"],
        PASSWORD_PEPPER=os.environ["P"], TESTING=True, LOG_LEVEL="ERROR",
        EMAIL_BACKEND="console", WEBHOOK_ALLOW_PRIVATE_URLS=True,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ctx = app.state.ctx
        await commit(ctx, "a")  # its dispatcher claims these; the receiver holds them
        while True:
            async with ctx.sessionmaker() as db:
                rows = (await db.exec(select(WebhookDelivery))).all()
            if len(rows) == 3 and all(row.attempts == 1 for row in rows):
                break
            await asyncio.sleep(0.01)
        # Wait for the test to see the three requests arrive (then they hang).
        await asyncio.to_thread(sys.stdin.readline)
        await app.state.webhook_dispatcher.stop()  # the attempts never finish
        await commit(ctx, "b")  # committed, never sent by this process
        print("committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_a_killed_process_leaves_nothing_unsent(
    loopback_harness: Harness, receiver: Receiver, database_url: str
) -> None:
    """A worker dies with three attempts in flight and three committed events it never
    sent: the next process sends the three at once, and retries the three (with the
    same webhook-ids) when their lease ends."""
    harness = loopback_harness
    dispatcher = harness.app.state.webhook_dispatcher
    await dispatcher.stop()
    headers = await admin_headers(harness)
    await create_endpoint(harness, headers, receiver.url, ["user_updated"])
    receiver.replies.extend(["hang", "hang", "hang"])

    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    env.update(K=TEST_SECRET_KEY, P=TEST_PEPPER)
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CRASHING_WORKER,
        database_url,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert worker.stdin is not None
    try:
        await until(lambda: len(receiver.requests) == 3, within=60)
    finally:
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
        out, _ = await asyncio.wait_for(worker.communicate(), timeout=60)
    assert worker.returncode == -signal.SIGKILL
    assert b"committed" in out
    receiver.release()
    first = [json.loads(r.body)["data"]["details"] for r in receiver.requests]
    assert sorted(d["n"] for d in first) == [0, 1, 2] and {d["batch"] for d in first} == {"a"}
    in_flight = sorted(receiver.ids())

    # The next process: the unsent batch goes out at once; the leased attempts wait.
    assert await dispatcher.run_once() is False
    sent = [json.loads(r.body)["data"]["details"] for r in receiver.requests[3:]]
    assert sorted(d["n"] for d in sent) == [0, 1, 2] and {d["batch"] for d in sent} == {"b"}
    # (The dead worker leased them on the wall clock, a little after this test's clock began.)
    harness.clock.advance(seconds=dispatcher_module.LEASE.total_seconds() + 60)
    await dispatcher.run_once()
    assert sorted(receiver.ids()[6:]) == in_flight  # the same webhook-ids, once more
    rows = await deliveries(harness)
    assert len(rows) == 6 and {row.status for row in rows} == {"delivered"}
    assert sorted(row.attempts for row in rows) == [1, 1, 1, 2, 2, 2]


async def test_prune_removes_old_finished_deliveries(
    loopback_harness: Harness, receiver: Receiver
) -> None:
    harness = loopback_harness
    headers = await admin_headers(harness)
    await create_endpoint(harness, headers, receiver.url, ["user_updated"])
    await commit_events(harness, 2)
    await until(lambda: len(receiver.requests) == 2)
    for _ in range(500):  # until both results are recorded
        if [row.status for row in await deliveries(harness)] == ["delivered"] * 2:
            break
        await asyncio.sleep(0.01)
    await harness.app.state.webhook_dispatcher.stop()
    async with harness.ctx.sessionmaker() as db:
        rows = list((await db.exec(select(WebhookDelivery))).all())
        rows[0].status = "pending"  # one still waiting: never pruned
        rows[0].next_attempt_at = harness.clock.now() + timedelta(days=90)
        db.add(rows[0])
        await db.commit()

    report = await prune(harness.ctx, session_days=7, audit_days=365, delivery_days=30)
    assert report.deliveries == 0
    harness.clock.advance(days=31)
    report = await prune(harness.ctx, session_days=7, audit_days=365, delivery_days=30)
    assert report.deliveries == 1
    left = await deliveries(harness)
    assert [row.status for row in left] == ["pending"]
    async with harness.ctx.sessionmaker() as db:
        outbox_rows = (await db.exec(select(func.count()).select_from(WebhookEvent))).one()
    assert outbox_rows == 0  # fanned-out events leave the outbox


@pytest.fixture
async def loopback_harness(make_harness: HarnessFactory) -> Harness:
    return await make_harness(WEBHOOK_ALLOW_PRIVATE_URLS=True)
