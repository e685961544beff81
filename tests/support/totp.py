"""An authenticator app for tests: pyotp, on the harness's clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pyotp

from tests.support.clock import FakeClock
from tests.support.flows import API, bearer

MFA = f"{API}/users/mfa"


@dataclass
class Authenticator:
    secret: str
    clock: FakeClock

    def code(self, steps: int = 0) -> str:
        """The code of the current step (or `steps` away); no step is ever accepted twice,
        so a test moves the clock on (`next`) before each further use."""
        return pyotp.TOTP(self.secret).at(self.clock.now().timestamp() + 30 * steps)

    def next(self) -> str:
        self.clock.advance(seconds=30)
        return self.code()


async def enrol(
    client: httpx.AsyncClient, access_token: str, clock: FakeClock
) -> tuple[Authenticator, list[str]]:
    """Turn TOTP on for the token's user; the app and the recovery codes."""
    setup = await client.post(f"{MFA}/totp/setup", headers=bearer(access_token))
    assert setup.status_code == 200, setup.text
    app = Authenticator(setup.json()["secret"], clock)
    confirm = await client.post(
        f"{MFA}/totp/confirm", json={"code": app.code()}, headers=bearer(access_token)
    )
    assert confirm.status_code == 200, confirm.text
    # The confirming step is spent: the next use needs the next one.
    clock.advance(seconds=30)
    return app, confirm.json()["recovery_codes"]


async def verify(client: httpx.AsyncClient, mfa_token: str, code: str) -> httpx.Response:
    return await client.post(f"{API}/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})


def mfa_token(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "mfa_required", body
    return str(body["mfa_token"])
