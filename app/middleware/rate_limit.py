"""Per-client rate limits: a global budget for every request, and a stricter budget
of its own for each sensitive auth route (SPEC §5, §6 "Rate limits")."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.core.context import request_context_var
from app.core.ratelimit import Decision, Limit, tightest
from app.errors import ErrorCode, error_body
from app.middleware.request_id import ROUTE_TEMPLATE_KEY
from app.middleware.responses import send_json
from app.middleware.route_names import RouteNames
from app.utils.net import client_bucket, resolve_client_ip

GLOBAL_BATCH = 64
# Probes and scrapers must never be throttled, nor the public keys: a document
# served from memory that every downstream service (often behind one address)
# fetches, and whose refusal would make valid tokens unverifiable.
EXEMPT_PATHS = frozenset({"/health", "/health/ready", "/metrics", "/.well-known/jwks.json"})
AUTH_ROUTES = {
    ("POST", "/api/v1/auth/login"): "login",
    ("POST", "/api/v1/auth/token"): "token",
    ("POST", "/api/v1/auth/register"): "register",
    ("POST", "/api/v1/auth/password-reset"): "password-reset",
    ("POST", "/api/v1/auth/verify-email/resend"): "verify-email-resend",
    # Signing in with a passkey spends login's budget: one limit per client for
    # every way to try a credential.
    ("POST", "/api/v1/auth/passkeys/login/verify"): "login",
    ("POST", "/api/v1/auth/passkeys/login/options"): "passkey-options",
    ("POST", "/api/v1/auth/magic-link"): "magic-link",
    # Signing in with an emailed link or code spends login's budget (SPEC §7.4).
    ("POST", "/api/v1/auth/magic-link/verify"): "login",
    ("POST", "/api/v1/auth/email-code/verify"): "login",
    # The second step of a sign-in spends login's budget too (SPEC §7.1).
    ("POST", "/api/v1/auth/mfa/verify"): "login",
}


class RateLimitMiddleware:
    """Counts each request against the client's budgets before the app sees it.

    The limiter lives on the app's ServiceContext (built in the lifespan), so it
    is looked up per request. Every response carries RateLimit-* headers for
    the tightest limit that applied, including limits that services checked
    (per account) while handling the request.
    """

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.trusted = settings.trusted_proxy_networks
        # The global budget may be reserved in batches (see Limit); the auth routes' not.
        self.global_limit = Limit("global", settings.RATE_LIMIT_PER_MINUTE, batch=GLOBAL_BATCH)
        self.route_limits = {
            key: Limit(name, settings.AUTH_RATE_LIMIT_PER_MINUTE)
            for key, name in AUTH_ROUTES.items()
        }
        self.route_names = RouteNames()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        limiter = scope["app"].state.ctx.limiter
        client = client_bucket(resolve_client_ip(scope, self.trusted))
        # The request-id layer (outside this one) owns the request's context.
        request = request_context_var.get()
        decisions = request.decisions if request is not None else []
        decision = await limiter.hit(self.global_limit, client)
        route_limit = self.route_limits.get((scope["method"], scope["path"]))
        if decision.allowed and route_limit is not None:
            decision = await limiter.hit(route_limit, client)
        if not decision.allowed:
            # Refused before routing: name the route for the request line and metrics.
            scope[ROUTE_TEMPLATE_KEY] = self.route_names.template(scope)
            await _refuse(send, decision)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                best = tightest(decisions)
                if best is not None:
                    message["headers"] = [*message.get("headers", []), *best.headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(send: Send, decision: Decision) -> None:
    body = error_body("Too many requests; slow down", ErrorCode.RATE_LIMITED)
    await send_json(send, 429, body, headers=decision.headers())
