"""Google: OpenID Connect authorization code flow with PKCE S256 and a nonce."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

import httpx
import jwt

from app.core.clock import Clock
from app.services.oauth.base import (
    FlowSecrets,
    OAuthProvider,
    ProviderError,
    ProviderIdentity,
    call,
    clean_name,
    require_str,
)

ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})
CLOCK_SKEW = timedelta(seconds=60)


def _verified(value: object) -> bool:
    # Google sends a JSON boolean; older endpoints sent the string "true".
    return value is True or value == "true"


class GoogleProvider(OAuthProvider):
    name = "google"
    scope = "openid email profile"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        authorize_url: str,
        token_url: str,
        userinfo_url: str,
    ) -> None:
        super().__init__(
            client_id=client_id, client_secret=client_secret, authorize_url=authorize_url
        )
        self._token_url = token_url
        self._userinfo_url = userinfo_url

    def extra_authorize_params(self, secrets: FlowSecrets) -> dict[str, str]:
        return {"nonce": secrets.nonce}

    async def fetch_identity(
        self,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        code: str,
        secrets: FlowSecrets,
        redirect_uri: str,
    ) -> ProviderIdentity:
        tokens = await call(
            http,
            "token",
            "POST",
            self._token_url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "code_verifier": secrets.code_verifier,
            },
            headers={"Accept": "application/json"},
        )
        access_token = require_str(tokens, "access_token", "token")
        claims = self._id_token_claims(require_str(tokens, "id_token", "token"), secrets, clock)
        profile = await call(
            http,
            "userinfo",
            "GET",
            self._userinfo_url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        subject = require_str(profile, "sub", "userinfo")
        if subject != claims["sub"]:
            raise ProviderError("subject_mismatch", stage="userinfo")
        email = profile.get("email", claims.get("email"))
        verified = profile.get("email_verified", claims.get("email_verified"))
        return ProviderIdentity(
            provider=self.name,
            subject=subject,
            email=email if isinstance(email, str) and email else None,
            email_verified=_verified(verified),
            name=clean_name(profile.get("name")),
        )

    def _id_token_claims(self, id_token: str, secrets: FlowSecrets, clock: Clock) -> dict[str, Any]:
        """Check the ID token's issuer, audience, expiry and nonce.

        It came straight from the token endpoint over TLS, so its signature
        need not be checked (OpenID Connect Core §3.1.3.7, item 6); the claims
        still bind it to this client and this very flow.
        """
        try:
            claims: dict[str, Any] = jwt.decode(id_token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise ProviderError("malformed_id_token", stage="token") from exc
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        expires = claims.get("exp")
        nonce = claims.get("nonce")
        if claims.get("iss") not in ISSUERS:
            raise ProviderError("id_token_issuer", stage="token")
        if self.client_id not in audiences or claims.get("azp", self.client_id) != self.client_id:
            raise ProviderError("id_token_audience", stage="token")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            raise ProviderError("id_token_expiry", stage="token")
        if expires <= (clock.now() - CLOCK_SKEW).timestamp():
            raise ProviderError("id_token_expiry", stage="token")
        if not isinstance(nonce, str) or not hmac.compare_digest(
            nonce.encode("utf-8", "surrogatepass"), secrets.nonce.encode("ascii")
        ):
            raise ProviderError("id_token_nonce", stage="token")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise ProviderError("missing_field", stage="token", field="sub")
        return claims
