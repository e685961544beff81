"""What every provider client offers, and the failures a callback can end in.

Providers talk to the outside world only through the shared HTTP client
(timeouts set, redirects never followed). Nothing here logs or returns a
token or a code: failures carry a stage and an HTTP status, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from app.core.clock import Clock
from app.schemas.common import NAME_FORBIDDEN_CHARS

# Where the OAuth routes live; also the path the binding cookie is scoped to.
OAUTH_PATH = "/api/v1/oauth"
NAME_MAX = 200


class OAuthFailure(Exception):
    """A callback that cannot log anyone in. `code` is what the frontend sees as `error=`."""

    code: ClassVar[str] = "provider_error"

    def __init__(self, reason: str, *, user_id: uuid.UUID | None = None, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user_id = user_id  # the account concerned, when one is known
        self.details = details


class InvalidState(OAuthFailure):
    code = "invalid_state"


class ProviderError(OAuthFailure):
    code = "provider_error"


class EmailUnverified(OAuthFailure):
    code = "email_unverified"


class AccountDisabled(OAuthFailure):
    code = "account_disabled"


@dataclass(frozen=True, slots=True)
class ProviderIdentity:
    """Who the provider says the user is. Identity is (provider, subject), never the email."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


@dataclass(frozen=True, slots=True)
class FlowSecrets:
    """Per-flow values the provider sees: the PKCE verifier and the OpenID nonce."""

    code_verifier: str
    nonce: str

    @property
    def code_challenge(self) -> str:
        return pkce_challenge(self.code_verifier)


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def clean_name(value: object) -> str | None:
    """A display name from a provider: text only, no control characters, line
    separators or bidirectional controls (as our own names, SPEC §6), bounded."""
    if not isinstance(value, str):
        return None
    text = "".join(
        ch
        for ch in value
        if unicodedata.category(ch) not in ("Cc", "Cs") and ch not in NAME_FORBIDDEN_CHARS
    ).strip()
    return text[:NAME_MAX] or None


class OAuthProvider(ABC):
    """One social login provider (authorization code flow with PKCE)."""

    name: ClassVar[str]
    scope: ClassVar[str]

    def __init__(self, *, client_id: str, client_secret: str, authorize_url: str) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._authorize_url = authorize_url

    def authorization_url(self, *, state: str, secrets: FlowSecrets, redirect_uri: str) -> str:
        """The provider URL the browser is sent to."""
        params = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": self.scope,
            "state": state,
            "code_challenge": secrets.code_challenge,
            "code_challenge_method": "S256",
            **self.extra_authorize_params(secrets),
        }
        separator = "&" if "?" in self._authorize_url else "?"
        return f"{self._authorize_url}{separator}{urlencode(params)}"

    def extra_authorize_params(self, secrets: FlowSecrets) -> dict[str, str]:
        return {}

    @abstractmethod
    async def fetch_identity(
        self,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        code: str,
        secrets: FlowSecrets,
        redirect_uri: str,
    ) -> ProviderIdentity:
        """Trade the authorization code for tokens and read who the user is.

        Raises ProviderError for every failure: timeouts, transport errors,
        non-2xx answers, redirects, malformed or inconsistent bodies.
        """


async def call(http: httpx.AsyncClient, stage: str, method: str, url: str, **kwargs: Any) -> Any:
    """One request to a provider; the parsed JSON body of a 2xx answer, else ProviderError."""
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise ProviderError("timeout", stage=stage) from exc
    except httpx.HTTPError as exc:
        raise ProviderError("transport", stage=stage, error=type(exc).__name__) from exc
    if not response.is_success:  # 3xx included: redirects are never followed
        raise ProviderError("http_status", stage=stage, status=response.status_code)
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError("malformed_body", stage=stage) from exc


def require_str(body: Any, key: str, stage: str) -> str:
    """`body[key]` as a non-empty string, or ProviderError."""
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise ProviderError("missing_field", stage=stage, field=key)
    return value
