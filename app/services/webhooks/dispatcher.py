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
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog

from app.core import outbound
from app.core.crypto import DecryptionError
from app.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
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


def message_body(event: WebhookEvent) -> str:
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


def subscribed(endpoint: WebhookEndpoint, event: WebhookEvent) -> bool:
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
        lease_until = now + LEASE
        async with self.ctx.sessionmaker() as db:
            repo = WebhookRepository(db)
            if not skip_check and not await repo.has_work(now):  # idle: no write lock
                return False
            events = await repo.take_events(BATCH)
            endpoints = {endpoint.id: endpoint for endpoint in await repo.enabled()}
            fresh: list[WebhookDelivery] = []
            for event in events:
                body = message_body(event)
                for endpoint in endpoints.values():
                    if subscribed(endpoint, event):
                        delivery = WebhookDelivery(
                            endpoint_id=endpoint.id,
                            event=event.event,
                            body=body,
                            attempts=1,
                            next_attempt_at=lease_until,
                            created_at=now,
                        )
                        repo.add_delivery(delivery)
                        fresh.append(delivery)
            claimed = await repo.claim(now, lease_until, BATCH)
            await db.commit()
        work = fresh + claimed
        if work:
            outcomes = await asyncio.gather(
                *(self._attempt(d, endpoints.get(d.endpoint_id)) for d in work)
            )
            await self._record(list(zip(work, outcomes, strict=True)))
        return len(events) >= BATCH or len(claimed) >= BATCH

    async def _attempt(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint | None
    ) -> Outcome:
        if endpoint is None:
            return Outcome(False, error="endpoint deleted")
        settings = self.ctx.settings
        try:
            address = await outbound.resolve(
                endpoint.url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS
            )
        except outbound.UnsafeTarget as exc:
            return Outcome(False, error=f"refused: {exc}")
        now = self.ctx.clock.now()
        timestamp = int(now.timestamp())
        msg_id = f"msg_{delivery.id.hex}"
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
                    self._secrets(endpoint, now),
                    msg_id=msg_id,
                    timestamp=timestamp,
                    body=delivery.body,
                ),
            }
            answer = await outbound.post_pinned(
                self.ctx.http,
                endpoint.url,
                address,
                content=delivery.body.encode(),
                headers=headers,
                time_limit=DELIVERY_TIMEOUT_SECONDS,
            )
        except DecryptionError:
            return Outcome(False, error="secret cannot be decrypted: check DATA_ENCRYPTION_KEY")
        except TimeoutError:
            return Outcome(False, error="timed out")
        except httpx.HTTPError as exc:
            return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:300])
        except Exception as exc:
            log.exception("webhook_attempt_failed", delivery_id=str(delivery.id))
            return Outcome(False, error=f"{type(exc).__name__}"[:300])
        if 200 <= answer.status_code < 300:
            return Outcome(True, status_code=answer.status_code)
        return Outcome(False, status_code=answer.status_code, error=f"HTTP {answer.status_code}")

    def _secrets(self, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
        cipher = self.ctx.cipher
        keys = [unseal(cipher, endpoint.secret, endpoint.id)]
        if (
            endpoint.previous_secret
            and endpoint.previous_secret_until
            and endpoint.previous_secret_until > now
        ):
            keys.append(unseal(cipher, endpoint.previous_secret, endpoint.id))
        return keys

    async def _record(self, results: list[tuple[WebhookDelivery, Outcome]]) -> None:
        """Write every result of a round in one statement (an executemany by id)."""
        settings = self.ctx.settings
        now = self.ctx.clock.now()
        rows: list[dict[str, object]] = []
        for delivery, outcome in results:
            row: dict[str, object] = {
                "id": delivery.id,
                "last_status_code": outcome.status_code,
                "last_error": outcome.error,
                "next_attempt_at": delivery.next_attempt_at,  # the lease, kept when final
                "delivered_at": None,
            }
            if outcome.ok:
                row |= {"status": DeliveryStatus.DELIVERED.value, "delivered_at": now}
            elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
                row |= {"status": DeliveryStatus.FAILED.value}
            else:
                delay = backoff(settings.WEBHOOK_RETRY_BASE_SECONDS, delivery.attempts)
                row |= {"status": DeliveryStatus.PENDING.value, "next_attempt_at": now + delay}
            rows.append(row)
            if not outcome.ok:
                log.info(
                    "webhook_attempt_failed",
                    delivery_id=str(delivery.id),
                    attempts=delivery.attempts,
                    status=row["status"],
                    error=outcome.error,
                )
        async with self.ctx.sessionmaker() as db:
            await WebhookRepository(db).finish_many(rows)
            await db.commit()
