"""Pure ASGI middleware, one class a file (no BaseHTTPMiddleware: no extra task per request)."""
