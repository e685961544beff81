"""Real JWKS clients against the running service, before and after a key rotation
(SPEC §7.3): PyJWT's PyJWKClient, and a Node service's jose (createRemoteJWKSet +
jwtVerify, in tests/node; skipped when node or its node_modules are missing)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from app.main import create_app
from app.services.context import ServiceContext
from app.services.signing import keyset
from app.services.signing import loader as loader_module
from tests.conftest import _wipe_database, base_settings
from tests.support.flows import tokens, verified_user
from tests.support.mail import Mailbox
from tests.support.server import Running, serving

NODE_DIR = Path(__file__).parent / "node"
ISSUER = "http://testserver"


@dataclass
class Service:
    running: Running
    ctx: ServiceContext
    mailbox: Mailbox

    @property
    def jwks_url(self) -> str:
        return f"{self.running.base_url}/.well-known/jwks.json"

    async def access_token(self) -> str:
        email = await verified_user(self.running.client, self.mailbox, self.ctx.background)
        return str((await tokens(self.running.client, email))["access_token"])

    async def rotate(self) -> str:
        """Rotate as `backend keys rotate` does, then wait until this worker signs with it."""
        settings = self.ctx.settings
        async with self.ctx.sessionmaker() as db:
            kid = await keyset.rotate(
                db,
                self.ctx.cipher,
                algorithm=settings.ALGORITHM,
                now=self.ctx.clock.now(),
                access_ttl=settings.access_token_ttl,
            )
        for _ in range(200):  # the worker's own poll picks it up
            if self.ctx.keyring.snapshot.signing_kid == kid:
                return kid
            await asyncio.sleep(0.02)
        raise AssertionError("the worker did not switch to the new key")


@pytest.fixture
async def service(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Service]:
    monkeypatch.setattr(loader_module, "POLL_SECONDS", 0.05)
    mailbox = Mailbox()
    app = create_app(base_settings(database_url, ALGORITHM="ES256"), email_sender=mailbox)
    async with serving(app) as running:
        ctx: ServiceContext = app.state.ctx
        try:
            yield Service(running, ctx, mailbox)
        finally:
            await ctx.store.clear("")
            await _wipe_database(ctx)


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def test_pyjwkclient_verifies_before_and_after_a_rotation(service: Service) -> None:
    client = jwt.PyJWKClient(service.jwks_url)

    def verify(token: str) -> dict[str, Any]:
        key = client.get_signing_key_from_jwt(token)
        return dict(jwt.decode(token, key, algorithms=["ES256"], audience=ISSUER, issuer=ISSUER))

    before = await service.access_token()
    claims = await asyncio.to_thread(verify, before)
    assert claims["role"] == "user" and claims["amr"] == ["pwd"] and claims["type"] == "access"

    new_kid = await service.rotate()
    after = await service.access_token()
    assert _kid(after) == new_kid != _kid(before)
    assert (await asyncio.to_thread(verify, after))["sub"] != claims["sub"]
    assert (await asyncio.to_thread(verify, before))["sub"] == claims["sub"]  # still valid


def _node_ready() -> str | None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not installed"
    if not (NODE_DIR / "node_modules" / "jose").is_dir():
        return "tests/node/node_modules missing (npm ci --prefix tests/node)"
    return None


@pytest.mark.skipif(_node_ready() is not None, reason=str(_node_ready()))
async def test_node_jose_verifies_before_and_after_a_rotation(service: Service) -> None:
    node = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / "verify.mjs"),
        service.jwks_url,
        ISSUER,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=NODE_DIR,
    )
    assert node.stdin is not None and node.stdout is not None

    async def verify(token: str) -> dict[str, Any]:
        assert node.stdin is not None and node.stdout is not None
        node.stdin.write(token.encode() + b"\n")
        await node.stdin.drain()
        line = await asyncio.wait_for(node.stdout.readline(), timeout=30)
        return dict(json.loads(line))

    try:
        before = await service.access_token()
        first = await verify(before)
        assert first["ok"] and first["kid"] == _kid(before) and first["role"] == "user"

        new_kid = await service.rotate()
        after = await service.access_token()
        assert _kid(after) == new_kid
        # One long-lived key set: the new key was already published as "next".
        second = await verify(after)
        assert second["ok"] and second["kid"] == new_kid and second["amr"] == ["pwd"]
        assert (await verify(before))["ok"]
        # A token that was tampered with is refused.
        head, body, signature = after.split(".")
        forged = await verify(f"{head}.{body}.{signature[::-1]}")
        assert not forged["ok"]
    finally:
        node.stdin.close()
        await asyncio.wait_for(node.wait(), timeout=30)
