"""The route template a request is for, found without routing it.

A layer that answers before the router (the rate limiter's 429) still owes the
request line and the metrics a route name: the same template routing would
have recorded (`route_template` in request_id.py), never the raw path.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Scope

from app.middleware.request_id import UNMATCHED

CACHE_SIZE = 1024
CACHED_PATH_LENGTH = 256  # longer paths are matched every time rather than kept


def _template(route: BaseRoute) -> str:
    path = str(getattr(route, "path", ""))
    # Under a mount the rest of the path is the client's: name only the prefix.
    return f"{path}/{{path}}" if isinstance(route, Mount) else path


class RouteNames:
    """Matches a request against the application's routes, remembering recent paths.

    Refusals are what repeats (a client hammering one route), so a small cache
    keyed by method and path makes most lookups a dict hit; a miss costs one
    pass over the route table, what routing the request would have cost.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], str] = {}

    def template(self, scope: Scope) -> str:
        key = (scope["method"], scope["path"])
        name = self._cache.get(key)
        if name is None:
            routes: Sequence[BaseRoute] = scope["app"].router.routes
            name = _match(routes, scope)
            if len(key[1]) <= CACHED_PATH_LENGTH:
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()
                self._cache[key] = name
        return name


def _match(routes: Sequence[BaseRoute], scope: Scope) -> str:
    partial: BaseRoute | None = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return _template(route)
        if match is Match.PARTIAL and partial is None:
            partial = route  # the path matches, the method not (routing answers 405)
    return UNMATCHED if partial is None else _template(partial)
