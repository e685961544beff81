"""Password hashing: peppered pre-hash, no truncation, any Unicode, scheme prefix."""

from __future__ import annotations

import bcrypt
import pytest

from app.core.password_policy import password_problem
from app.core.security import SCHEME_PREFIX, PasswordHasher

PEPPER = b"pepper-" + b"x" * 40


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(pepper=PEPPER, rounds=4)


def test_hash_has_scheme_prefix_and_verifies(hasher: PasswordHasher) -> None:
    stored = hasher.hash_sync("correct horse battery staple")
    assert stored.startswith(SCHEME_PREFIX + "$2b$04$")
    assert hasher.verify_sync("correct horse battery staple", stored)
    assert not hasher.verify_sync("correct horse battery stapl", stored)


def test_passwords_sharing_first_72_bytes_are_different(hasher: PasswordHasher) -> None:
    prefix = "a" * 72
    stored = hasher.hash_sync(prefix + "one")
    assert hasher.verify_sync(prefix + "one", stored)
    assert not hasher.verify_sync(prefix + "two", stored)
    assert not hasher.verify_sync(prefix, stored)


@pytest.mark.parametrize(
    "password",
    [
        "🔐" * 40,  # 160 bytes of UTF-8: would crash bcrypt 5 if passed raw
        "пароль-очень-надёжный",
        "密码密码密码密码",
        "x" * 128,
        "tab\tinside",
    ],
)
def test_long_and_non_ascii_passwords_round_trip(hasher: PasswordHasher, password: str) -> None:
    stored = hasher.hash_sync(password)
    assert hasher.verify_sync(password, stored)
    assert not hasher.verify_sync(password + "!", stored)


def test_pepper_is_part_of_the_hash(hasher: PasswordHasher) -> None:
    other = PasswordHasher(pepper=b"another-pepper-" + b"y" * 40, rounds=4)
    stored = hasher.hash_sync("correct horse battery staple")
    assert not other.verify_sync("correct horse battery staple", stored)


def test_plain_bcrypt_of_the_password_is_not_accepted(hasher: PasswordHasher) -> None:
    # A leaked plain bcrypt hash (no pre-hash, no pepper) must not verify.
    raw = bcrypt.hashpw(b"correct horse battery staple", bcrypt.gensalt(4)).decode()
    assert not hasher.verify_sync("correct horse battery staple", raw)
    assert not hasher.verify_sync("correct horse battery staple", SCHEME_PREFIX + raw[:-4] + "AAAA")


@pytest.mark.parametrize("stored", [None, "", "garbage", SCHEME_PREFIX + "not-bcrypt"])
def test_unusable_hashes_fail_without_raising(hasher: PasswordHasher, stored: str | None) -> None:
    assert hasher.verify_sync("whatever password", stored) is False


def test_needs_rehash_follows_rounds(hasher: PasswordHasher) -> None:
    stored = hasher.hash_sync("correct horse battery staple")
    assert not hasher.needs_rehash(stored)
    assert PasswordHasher(pepper=PEPPER, rounds=5).needs_rehash(stored)
    assert hasher.needs_rehash("$2b$04$" + "x" * 53)


def test_nfkc_normalisation_makes_equivalent_forms_match(hasher: PasswordHasher) -> None:
    composed = "caf\u00e9 au lait strong"
    decomposed = "cafe\u0301 au lait strong"
    assert hasher.verify_sync(decomposed, hasher.hash_sync(composed))


async def test_async_hash_runs_in_a_thread(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("correct horse battery staple")
    assert await hasher.verify("correct horse battery staple", stored)
    assert not await hasher.verify("wrong", stored)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 8"),
        ("x" * 129, "at most 128"),
        ("password123", "too common"),
        ("PASSWORD123", "too common"),
        ("nul\x00inside-password", "control"),
        ("lone\ud800surrogate", "control"),
    ],
)
def test_policy_rejects(password: str, problem: str) -> None:
    found = password_problem(password)
    assert found is not None and problem in found


def test_policy_rejects_the_email_as_password() -> None:
    assert password_problem("someone@example.com", email="someone@example.com")
    assert password_problem("someone1", email="someone1@example.com")


@pytest.mark.parametrize("password", ["qz7!mk2p", "y" * 128, "Ünïcödé pässwörd", "🔐🔑🗝️🔒🔓🛡️⚔️🏰"])
def test_policy_accepts(password: str) -> None:
    assert password_problem(password) is None


def test_policy_counts_code_points_not_bytes() -> None:
    assert password_problem("é" * 8) is None  # 16 bytes, 8 characters
    assert password_problem("🔐" * 7) is not None  # 28 bytes but only 7 characters


async def test_hashing_runs_on_low_priority_threads_of_its_own() -> None:
    import os
    import threading

    seen: list[tuple[str, int]] = []

    class Probe(PasswordHasher):
        def verify_sync(self, password: str, stored: str | None) -> bool:
            tid = threading.get_native_id()
            seen.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, tid)))
            return super().verify_sync(password, stored)

    hasher = Probe(pepper=PEPPER, rounds=4, threads=2)
    try:
        await hasher.verify("x", None)
    finally:
        hasher.close()
    [(name, nice)] = seen
    assert name.startswith("bcrypt")
    assert nice == 19  # the lowest: see _lower_priority
