"""Route class shared by every API router: JSON bodies must be sent as JSON (415)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Any

from fastapi.params import Form
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from app.errors import UnsupportedMediaType


def _is_json(content_type: str) -> bool:
    message = Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


class AppRoute(APIRoute):
    """An APIRoute that answers 415 when a JSON-body route gets another media type.

    Its OpenAPI summary is the first line of the handler's docstring, not a
    title made from the function name.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.summary is None and endpoint.__doc__:
            self.summary = summary_of(endpoint.__doc__)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        body_field = self.body_field
        expects_json = body_field is not None and not _is_form(self)
        if not expects_json:
            return handler

        async def checked(request: Request) -> Response:
            if _has_body(request) and not _is_json(request.headers.get("content-type", "")):
                raise UnsupportedMediaType()
            return await handler(request)

        return checked


def summary_of(docstring: str) -> str:
    """The first line of a docstring, without its final full stop."""
    return inspect.cleandoc(docstring).partition("\n")[0].strip().rstrip(".")


def _is_form(route: APIRoute) -> bool:
    field = route.body_field
    return field is not None and isinstance(field.field_info, Form)
