"""The FastAPI application of a service, built the same way everywhere: the runtime's lifespan and ops
endpoints, the request id middleware outermost, the JSON error handlers, every error response documented,
and operation ids that stay stable (a route's explicit ``operation_id``, else its function name)."""

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware import Middleware
from starlette.types import Lifespan

from cityloop.common.http_errors import install_error_handlers
from cityloop.common.input_guard import InputGuard
from cityloop.common.openapi import Document, with_error_bodies
from cityloop.common.request_context import RequestContext
from cityloop.common.runtime import ServiceRuntime


def operation_id(route: APIRoute) -> str:
    return route.name


def service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str = "",
    middleware: Sequence[Middleware] = (),
    lifespan: Lifespan[FastAPI] | None = None,
    **fastapi_options: Any,
) -> FastAPI:
    """``middleware`` runs inside the request id middleware, in the order given (outermost first); the
    hostile-input guard (input_guard.py) runs innermost, after any body limit."""
    app = FastAPI(
        title=title,
        version="1.0",
        description=description,
        lifespan=lifespan or runtime.lifespan,
        middleware=[Middleware(RequestContext), *middleware, Middleware(InputGuard)],
        generate_unique_id_function=operation_id,
        **fastapi_options,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    runtime.attach(app)
    set_openapi(app, lambda: FastAPI.openapi(app))
    return app


def set_openapi(app: FastAPI, build: Callable[[], Document]) -> None:
    """``/openapi.json`` serves ``build()`` with every error documented as the JSON error body, built once."""

    def document() -> Document:
        if app.openapi_schema is None:
            app.openapi_schema = with_error_bodies(build())
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
