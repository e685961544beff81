"""The outbox dispatcher: a task in every worker, outside the request path.

Each round, in its own short transactions:
1. fan out: take outbox rows and write one delivery per subscribed, enabled
   endpoint (the taking and the writing commit together);
2. claim due deliveries (the claim counts the attempt and leases the row, so
   exactly one worker makes each attempt, and a worker that dies mid-attempt
   only delays a retry until the lease ends);
3. send them concurrently, then record each result: delivered, a retry at
   an exponential, jittered delay, or failed after the last attempt.
It sleeps until woken by a local commit that wrote to the outbox, or until
the next poll (other workers' events, retries that fall due).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
import structlog

from app.core import outbound
from app.core.crypto import DecryptionError
from app.models import DeliveryStatus
from app.repositories import webhooks as repository
from app.repositories.webhooks import WebhookRepository
from app.services.context import ServiceContext
from app.services.webhooks import outbox
from app.services.webhooks.signing import envelope, sign, unseal

log = structlog.get_logger(__name__)

DELIVERY_TIMEOUT_SECONDS = 10.0
# Longer than an attempt can take: a lease that ends means the attempt died with its worker.
LEASE = timedelta(seconds=60)
POLL_SECONDS = 1.0
COALESCE_SECONDS = 0.05
# A round's attempts time out after 10 s: stopping waits a little longer for them.
STOP_GRACE_SECONDS = 12.0
BATCH = 50
MAX_DELAY = timedelta(hours=6)
USER_AGENT = "auth-backend-webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One claimed delivery, as its round sends it."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    body: str
    attempts: int
    next_attempt_at: datetime

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> Attempt:
        return cls(
            row["id"], row["endpoint_id"], row["body"], row["attempts"], row["next_attempt_at"]
        )


@dataclass(frozen=True, slots=True)
class Target:
    """An endpoint as a round sends to it: URL, checked address, signing secrets."""

    url: str
    address: outbound.IPAddress
    secrets: list[str]


@dataclass(frozen=True, slots=True)
class Taken:
    """What a round's transaction took: the enabled endpoints and the attempts to make."""

    endpoints: dict[uuid.UUID, Any]
    work: list[Attempt]
    events: int
    claimed: int


def message_body(event: Any) -> str:
    """The JSON sent for one event (the same bytes to every endpoint and on every retry)."""
    return envelope(
        event.event,
        event.created_at,
        {
            "audit_id": str(event.audit_id),
            "user_id": str(event.user_id) if event.user_id else None,
            "actor_id": str(event.actor_id) if event.actor_id else None,
            "details": event.details,
        },
    )


def subscribed(endpoint: Any, event: Any) -> bool:
    """Whether the endpoint wants the event (and existed when it happened)."""
    if event.created_at < endpoint.created_at:
        return False
    return "*" in endpoint.events or event.event in endpoint.events


def backoff(base_seconds: float, attempts: int, rng: random.Random | None = None) -> timedelta:
    """Delay before attempt `attempts + 1`: base * 2^(attempts-1), jittered by +-50%."""
    rng = rng or random.SystemRandom()
    delay = timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0) * rng.uniform(0.5, 1.5))
    return min(delay, MAX_DELAY)


class Dispatcher:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    # Lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        outbox.add_waker(self.wake)
        self._task = self._loop.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Finish the round in progress (its attempts are recorded), then stop.

        Cancelling in the middle of a database call could strand a connection;
        a round still running after `grace` seconds is cancelled all the same
        (its claims are leased, so another worker retries them).
        """
        outbox.remove_waker(self.wake)
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait([task], timeout=grace)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def wake(self) -> None:
        """Called after a local commit that wrote to the outbox (maybe from another loop)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        woken = True  # a first round at start: a previous process may have left work
        while not self._stopping:
            try:
                busy = await self.run_once(skip_check=woken)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook_dispatch_failed")
                busy = False
            woken = busy
            if busy or self._stopping:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
                if not self._stopping:
                    # Let a burst of commits gather: one round then carries them all.
                    await asyncio.sleep(COALESCE_SECONDS)
                woken = True
            except TimeoutError:
                pass
            self._wake.clear()

    # One round -------------------------------------------------------------------

    async def run_once(self, *, skip_check: bool = False) -> bool:
        """Fan out and send what is due now; True if there may be more right away.

        One transaction takes outbox rows, writes their deliveries already claimed
        by this worker, and claims other due deliveries; the sending happens after
        it commits, and one more transaction records the results. Unless told there
        is work (`skip_check`: woken by a commit), an idle round only reads.
        """
        now = self.ctx.clock.now()
        if not skip_check:
            async with self.ctx.sessionmaker() as db:
                if not await WebhookRepository(db).has_work(now):  # idle: no write lock
                    return False
        taken = await self.ctx.write(lambda connection: self._take(connection, now))
        if taken.work:
            by_endpoint: dict[uuid.UUID, list[Attempt]] = {}
            for attempt in taken.work:
                by_endpoint.setdefault(attempt.endpoint_id, []).append(attempt)
            # Endpoints side by side: one whose host answers slowly holds up only its own.
            sent = await asyncio.gather(
                *(
                    self._send_to(taken.endpoints.get(endpoint_id), attempts, now)
                    for endpoint_id, attempts in by_endpoint.items()
                )
            )
            await self._record([result for results in sent for result in results])
        return taken.events >= BATCH or taken.claimed >= BATCH

    def _take(self, connection: sa.Connection, now: datetime) -> Taken:
        """The round's transaction (see `run_once`), on a synchronous connection."""
        lease_until = now + LEASE
        events = repository.take_events(connection, BATCH)
        endpoints = {row.id: row for row in repository.enabled_endpoints(connection)}
        fresh: list[dict[str, Any]] = []
        for event in events:
            body = message_body(event)
            fresh += [
                {
                    "id": uuid.uuid4(),
                    "endpoint_id": endpoint.id,
                    "event": event.event,
                    "body": body,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 1,
                    "next_attempt_at": lease_until,
                    "created_at": now,
                }
                for endpoint in endpoints.values()
                if subscribed(endpoint, event)
            ]
        repository.insert_deliveries(connection, fresh)
        claimed = repository.claim(connection, now, lease_until, BATCH)
        work = [Attempt.of(row) for row in fresh] + [Attempt.of(row._mapping) for row in claimed]
        return Taken(endpoints, work, events=len(events), claimed=len(claimed))

    async def _send_to(
        self, endpoint: Any, attempts: list[Attempt], now: datetime
    ) -> list[tuple[Attempt, Outcome]]:
        """One endpoint's attempts of the round: its target checked once, then the sends."""
        target = await self._target(endpoint, now)
        outcomes = await asyncio.gather(*(self._attempt(attempt, target) for attempt in attempts))
        return list(zip(attempts, outcomes, strict=True))

    async def _target(self, endpoint: Any, now: datetime) -> Target | Outcome:
        """Where and how to send an endpoint's messages this round: its address,
        resolved and checked once, and its signing secrets; or why not."""
        if endpoint is None:
            return Outcome(False, error="endpoint deleted")
        try:
            async with asyncio.timeout(DELIVERY_TIMEOUT_SECONDS):  # getaddrinfo has none
                address = await outbound.resolve(
                    endpoint.url, allow_private=self.ctx.settings.WEBHOOK_ALLOW_PRIVATE_URLS
                )
            return Target(endpoint.url, address, self._secrets(endpoint, now))
        except TimeoutError:
            return Outcome(False, error="the host did not resolve in time")
        except outbound.UnsafeTarget as exc:
            return Outcome(False, error=f"refused: {exc}")
        except DecryptionError:
            return Outcome(False, error="secret cannot be decrypted: check DATA_ENCRYPTION_KEY")
        except Exception as exc:
            log.exception("webhook_target_failed", endpoint_id=str(endpoint.id))
            return Outcome(False, error=f"{type(exc).__name__}"[:300])

    async def _attempt(self, attempt: Attempt, target: Target | Outcome) -> Outcome:
        if isinstance(target, Outcome):
            return target
        timestamp = int(self.ctx.clock.now().timestamp())
        msg_id = f"msg_{attempt.id.hex}"
        # Every failure is an outcome, recorded and retried: an exception escaping
        # here would end the round with all its claims unrecorded (and their
        # sends repeated once the lease runs out).
        try:
            headers = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(
                    target.secrets, msg_id=msg_id, timestamp=timestamp, body=attempt.body
                ),
            }
            answer = await outbound.post_pinned(
                self.ctx.http,
                target.url,
                target.address,
                content=attempt.body.encode(),
                headers=headers,
                time_limit=DELIVERY_TIMEOUT_SECONDS,
            )
        except TimeoutError:
            return Outcome(False, error="timed out")
        except httpx.HTTPError as exc:
            return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:300])
        except Exception as exc:
            log.exception("webhook_attempt_failed", delivery_id=str(attempt.id))
            return Outcome(False, error=f"{type(exc).__name__}"[:300])
        if 200 <= answer.status_code < 300:
            return Outcome(True, status_code=answer.status_code)
        return Outcome(False, status_code=answer.status_code, error=f"HTTP {answer.status_code}")

    def _secrets(self, endpoint: Any, now: datetime) -> list[str]:
        cipher = self.ctx.cipher
        keys = [unseal(cipher, endpoint.secret, endpoint.id)]
        if (
            endpoint.previous_secret
            and endpoint.previous_secret_until
            and endpoint.previous_secret_until > now
        ):
            keys.append(unseal(cipher, endpoint.previous_secret, endpoint.id))
        return keys

    async def _record(self, results: list[tuple[Attempt, Outcome]]) -> None:
        """Write every result of a round in one statement (an executemany by id)."""
        settings = self.ctx.settings
        now = self.ctx.clock.now()
        rows: list[dict[str, Any]] = []
        for attempt, outcome in results:
            row: dict[str, Any] = {
                "id": attempt.id,
                "last_status_code": outcome.status_code,
                "last_error": outcome.error,
                "next_attempt_at": attempt.next_attempt_at,  # the lease, kept when final
                "delivered_at": None,
            }
            if outcome.ok:
                row |= {"status": DeliveryStatus.DELIVERED.value, "delivered_at": now}
            elif attempt.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
                row |= {"status": DeliveryStatus.FAILED.value}
            else:
                delay = backoff(settings.WEBHOOK_RETRY_BASE_SECONDS, attempt.attempts)
                row |= {"status": DeliveryStatus.PENDING.value, "next_attempt_at": now + delay}
            rows.append(row)
            if not outcome.ok:
                log.info(
                    "webhook_attempt_failed",
                    delivery_id=str(attempt.id),
                    attempts=attempt.attempts,
                    status=row["status"],
                    error=outcome.error,
                )
        await self.ctx.write(lambda connection: repository.finish_many(connection, rows))
