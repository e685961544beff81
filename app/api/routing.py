"""Route class shared by every API router: JSON bodies must be sent as JSON (415)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.utils import get_typed_return_annotation
from fastapi.exceptions import RequestValidationError
from fastapi.params import Form
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from app.api import refresh_cookie
from app.errors import AppError, UnsupportedMediaType


@functools.lru_cache(maxsize=256)  # a handful of distinct values; bounded for the rest
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
    title made from the function name. A route that answers a `TokenPair`, or
    reads the refresh cookie, goes through `app/api/refresh_cookie.py`, the one
    place that sets and clears that cookie.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        model = kwargs.get("response_model")
        if model is None or isinstance(model, DefaultPlaceholder):
            model = get_typed_return_annotation(endpoint)
        if refresh_cookie.issues_token_pair(model):
            endpoint = refresh_cookie.wrap_endpoint(endpoint)
        super().__init__(path, endpoint, **kwargs)
        if self.summary is None and endpoint.__doc__:
            self.summary = summary_of(endpoint.__doc__)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = self._json_only(super().get_route_handler())
        spends_cookie = refresh_cookie.reads_cookie(self.dependant)
        if spends_cookie or refresh_cookie.issues_token_pair(self.response_model):
            return refresh_cookie.wrap_handler(handler, spends_cookie=spends_cookie)
        return handler

    def _json_only(
        self, handler: Callable[[Request], Coroutine[Any, Any, Response]]
    ) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        body_field = self.body_field
        expects_json = body_field is not None and not _is_form(self)
        if not expects_json:
            return handler

        async def checked(request: Request) -> Response:
            if _has_body(request) and not _is_json(request.headers.get("content-type", "")):
                raise UnsupportedMediaType()
            return await handler(request)

        return checked


def refusing_invalid(field: str, error: type[AppError]) -> type[AppRoute]:
    """An AppRoute that answers `error` instead of 422 when what fails validation lies
    inside the body's `field` (and nowhere else).

    For credentials a client hands over unread (WebAuthn responses): a malformed
    one is a failed ceremony with the route's own code, while the document still
    describes the field's full schema.
    """

    class RefusingRoute(AppRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def refusing(request: Request) -> Response:
                try:
                    return await handler(request)
                except RequestValidationError as exc:
                    inside = [tuple(e.get("loc", ()))[:2] == ("body", field) for e in exc.errors()]
                    if inside and all(inside):
                        raise error() from exc
                    raise

            return refusing

    RefusingRoute.__name__ = RefusingRoute.__qualname__ = f"Refusing{error.__name__}Route"
    return RefusingRoute


def summary_of(docstring: str) -> str:
    """The first line of a docstring, without its final full stop."""
    return inspect.cleandoc(docstring).partition("\n")[0].strip().rstrip(".")


def _is_form(route: APIRoute) -> bool:
    field = route.body_field
    return field is not None and isinstance(field.field_info, Form)


def include_flat(
    app: FastAPI,
    router: APIRouter,
    *,
    prefix: str = "",
    responses: dict[int | str, dict[str, Any]] | None = None,
) -> None:
    """Add `router`'s routes to the application's own route table.

    `app.include_router` keeps the router as a subtree that FastAPI resolves
    again on every request, paying for each level and for every router tried
    before the right one. Copying the routes (as `include_router` used to)
    gives the same routes and OpenAPI document with a flat table to match.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"cannot flatten {route!r}")
        app.router.add_api_route(
            prefix + route.path,
            route.endpoint,
            response_model=route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=route.dependencies,
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses={**(responses or {}), **route.responses},
            deprecated=route.deprecated,
            methods=route.methods,
            operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema,
            response_class=route.response_class,
            name=route.name,
            route_class_override=type(route),
            callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=route.generate_unique_id_function,
            strict_content_type=route.strict_content_type,
            max_body_size=route.max_body_size,
            form_limits=route.form_limits,
        )
