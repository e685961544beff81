"""One-time challenges in the shared store: purpose-bound, hashed, single use, attempt-limited."""

from __future__ import annotations

import asyncio

from app.cache.memory import MemoryStore
from app.services.challenges import Challenges


async def test_issue_then_consume_once() -> None:
    store = MemoryStore()
    challenges = Challenges(store)
    raw = await challenges.issue("mfa", {"user_id": "u1"}, ttl=60)
    assert len(raw) >= 43
    assert await challenges.peek("mfa", raw) == {"user_id": "u1"}
    assert await challenges.consume("mfa", raw) == {"user_id": "u1"}
    assert await challenges.consume("mfa", raw) is None
    assert await challenges.peek("mfa", raw) is None


async def test_the_secret_is_stored_only_hashed() -> None:
    store = MemoryStore()
    raw = await Challenges(store).issue("mfa", {"n": 1}, ttl=60)
    keys = [key for key in store._data]  # noqa: SLF001 - inspecting the fake on purpose
    assert keys and all(raw not in key for key in keys)


async def test_a_challenge_of_one_purpose_is_not_one_of_another() -> None:
    challenges = Challenges(MemoryStore())
    raw = await challenges.issue("passkey-login", {"n": 1}, ttl=60)
    assert await challenges.consume("passkey-register", raw) is None
    assert await challenges.consume("passkey-login", raw) == {"n": 1}


async def test_concurrent_consumers_get_it_exactly_once() -> None:
    challenges = Challenges(MemoryStore())
    raw = await challenges.issue("mfa", {"n": 1}, ttl=60)
    results = await asyncio.gather(*(challenges.consume("mfa", raw) for _ in range(20)))
    assert sum(result is not None for result in results) == 1


async def test_the_last_allowed_failure_kills_it() -> None:
    challenges = Challenges(MemoryStore())
    raw = await challenges.issue("mfa", {"n": 1}, ttl=60)
    for _ in range(4):
        assert await challenges.fail("mfa", raw, max_attempts=5, ttl=60) is False
        assert await challenges.peek("mfa", raw) == {"n": 1}
    assert await challenges.fail("mfa", raw, max_attempts=5, ttl=60) is True
    assert await challenges.consume("mfa", raw) is None


async def test_a_caller_chosen_secret_and_expiry() -> None:
    now = [1000.0]
    challenges = Challenges(MemoryStore(timer=lambda: now[0]))
    assert await challenges.issue("webauthn", {"n": 1}, ttl=300, raw="chosen") == "chosen"
    now[0] += 299
    assert await challenges.peek("webauthn", "chosen") == {"n": 1}
    now[0] += 1
    assert await challenges.consume("webauthn", "chosen") is None


async def test_garbage_in_the_store_reads_as_no_challenge() -> None:
    store = MemoryStore()
    challenges = Challenges(store)
    raw = await challenges.issue("mfa", {"n": 1}, ttl=60)
    (key,) = list(store._data)  # noqa: SLF001
    await store.set(key, "[1, 2]", ttl=60)
    assert await challenges.peek("mfa", raw) is None
    await store.set(key, "{not json", ttl=60)
    assert await challenges.consume("mfa", raw) is None
