"""The route template a request is for, found without routing it.

A layer that answers before the router (the rate limiter's 429) still owes the
request line and the metrics a route name: the same template routing would
have recorded (`route_template` in request_id.py), never the raw path.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from starlette.routing import BaseRoute, Mount
from starlette.types import Scope

from app.middleware.request_id import UNMATCHED

CACHE_SIZE = 1024
CACHED_PATH_LENGTH = 256  # longer paths are matched every time rather than kept

# (position in the route table, literal prefix, the route's own path regex,
# its methods or None for any, template)
Entry = tuple[int, str, re.Pattern[str], Collection[str] | None, str]


def _route_path(scope: Scope) -> str:
    """The path the router matches: without the server's `root_path`, as Starlette does."""
    path: str = scope["path"]
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :]
    return path


def _entry(position: int, route: BaseRoute) -> Entry | None:
    path = getattr(route, "path", None)
    regex = getattr(route, "path_regex", None)
    if not isinstance(path, str) or not isinstance(regex, re.Pattern):
        return None
    # Under a mount the rest of the path is the client's: name only the prefix.
    template = f"{path}/{{path}}" if isinstance(route, Mount) else path
    return position, path.split("{", 1)[0], regex, getattr(route, "methods", None), template


class RouteNames:
    """Matches a request's path against the application's route table as the router
    would, but cheaply: a dict lookup for paths without parameters, a prefix test
    before each regex for the others. Recent paths are remembered: refusals repeat,
    so most lookups are one dict hit."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], str] = {}
        self._static: dict[str, list[Entry]] = {}
        self._dynamic: list[Entry] = []
        self._routes_seen = -1

    def template(self, scope: Scope) -> str:
        key = (scope["method"], scope["path"])
        name = self._cache.get(key)
        if name is None:
            routes: Sequence[BaseRoute] = scope["app"].router.routes
            if len(routes) != self._routes_seen:  # built once; again if routes were added
                self._index(routes)
            name = self._match(scope["method"], _route_path(scope))
            if len(key[1]) <= CACHED_PATH_LENGTH:
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()
                self._cache[key] = name
        return name

    def _index(self, routes: Sequence[BaseRoute]) -> None:
        self._static, self._dynamic = {}, []
        for position, route in enumerate(routes):
            entry = _entry(position, route)
            if entry is None:
                continue
            if entry[1] == entry[4]:  # no parameter: the template is the path itself
                self._static.setdefault(entry[4], []).append(entry)
            else:
                self._dynamic.append(entry)
        self._routes_seen = len(routes)

    def _match(self, method: str, path: str) -> str:
        # The router takes the first route in table order whose path and method match;
        # failing that, the first whose path matches (and answers 405).
        full: tuple[int, str] | None = None
        partial: tuple[int, str] | None = None
        for position, _, _, methods, template in self._static.get(path, ()):
            if methods is None or method in methods:
                full = (position, template) if full is None else full
            elif partial is None:
                partial = (position, template)
        for position, prefix, regex, methods, template in self._dynamic:  # in table order
            if full is not None and position > full[0]:
                break
            if path.startswith(prefix) and regex.match(path) is not None:
                if methods is None or method in methods:
                    full = (position, template)
                    break
                if partial is None or position < partial[0]:
                    partial = (position, template)
        if full is not None:
            return full[1]
        return UNMATCHED if partial is None else partial[1]
