"""Links into the frontend and validation of redirect targets.

Links are built only from FRONTEND_BASE_URL, never from Host or
X-Forwarded-Host, so a forged header cannot point a mailed link elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeRedirect(ValueError):
    """The target is not on the frontend's origin, or is malformed."""


def frontend_link(base_url: str, path: str, **params: str) -> str:
    """`base_url` + `path` + query string; `path` starts with a slash."""
    query = urlencode(params)
    return f"{base_url.rstrip('/')}{path}" + (f"?{query}" if query else "")


def add_query(url: str, **params: str) -> str:
    """Append parameters to a URL that may already carry a query."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _unusable(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF


def _origin(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int | None]:
    return scheme.lower(), (host or "").lower(), port or _DEFAULT_PORTS.get(scheme.lower())


def safe_redirect(target: str | None, base_url: str) -> str:
    """Return an absolute URL on the frontend for `target`, or raise UnsafeRedirect.

    Accepted: an absolute URL with the frontend's scheme, host and port, or a
    path starting with a single "/". Refused: userinfo, backslashes, control
    characters (and lone surrogates, which no URL can carry), protocol-relative
    "//host" and every other origin.
    """
    if not target:
        return base_url
    if any(_unusable(ch) for ch in target) or "\\" in target:
        raise UnsafeRedirect("control character or backslash")
    base = urlsplit(base_url)
    if target.startswith("/"):
        if target.startswith("//"):
            raise UnsafeRedirect("protocol-relative URL")
        parts = urlsplit(target)
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))
    parts = urlsplit(target)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeRedirect("userinfo")
    try:
        target_origin = _origin(parts.scheme, parts.hostname, parts.port)
    except ValueError as exc:  # invalid port
        raise UnsafeRedirect("invalid port") from exc
    if not parts.scheme or target_origin != _origin(base.scheme, base.hostname, base.port):
        raise UnsafeRedirect("another origin")
    return target
