"""Litestar app factory: routes from every area, the problem mapping, the ASGI middleware."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from adapters.registry import AREAS
from gharart_core import __version__
from gharart_core.shared.errors import DomainError

from .context import provide_ctx
from .middleware import GharartMiddleware
from .openapi import GharartJsonRenderPlugin
from .problems import domain_error_handler, http_exception_handler, unexpected_error_handler
from .runtime import Runtime

__all__ = ["GharartApp", "create_app"]

log = logging.getLogger("gharart.http")


def _area_modules() -> list[Any]:
    modules = []
    for area in AREAS:
        try:
            modules.append(importlib.import_module(f"entrypoints.http.routes.{area}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"entrypoints.http.routes.{area}":
                raise
    return modules


class GharartApp:
    """The ASGI application: ``GharartMiddleware`` around the Litestar app."""

    def __init__(self, litestar: Litestar, middleware: GharartMiddleware, runtime: Runtime) -> None:
        self.litestar = litestar
        self.middleware = middleware
        self.runtime = runtime
        self.container = runtime.container

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.middleware(scope, receive, send)


def create_app(container: Any | None = None) -> GharartApp:
    if container is None:
        from ..containers import build_container

        container = build_container()
    runtime = Runtime(container)
    modules = _area_modules()
    handlers: list[Any] = []
    for module in modules:
        handlers.extend(getattr(module, "ROUTES", []))

    async def on_startup(app: Litestar) -> None:
        settings = runtime.settings
        db = getattr(container, "database", None)
        if db is not None and settings.auto_migrate:
            from adapters.sql.migrate import upgrade

            await upgrade(settings.resolved_database_url)
        for module in modules:
            hook = getattr(module, "on_startup", None)
            if hook is not None:
                await hook(runtime)

    async def on_shutdown(app: Litestar) -> None:
        for module in modules:
            hook = getattr(module, "on_shutdown", None)
            if hook is not None:
                await hook(runtime)
        jobs = container.jobs()
        if hasattr(jobs, "drain"):
            await jobs.drain(timeout=10)
        await runtime.request_log.flush()
        db = getattr(container, "database", None)
        if db is not None:
            await db().dispose()

    litestar = Litestar(
        route_handlers=handlers,
        dependencies={"ctx": Provide(provide_ctx, sync_to_thread=False)},
        exception_handlers={
            DomainError: domain_error_handler,
            HTTPException: http_exception_handler,
            Exception: unexpected_error_handler,
        },
        openapi_config=OpenAPIConfig(
            title="Gharart core API",
            version=__version__,
            path="/schema",
            render_plugins=[GharartJsonRenderPlugin(), SwaggerRenderPlugin()],
            components=Components(security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer",
                                         description="A PAT (gha_pat_…) or a JWT from the identity provider."),
            }),
            security=[{"bearer": []}],
        ),
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        request_max_body_size=None,
        debug=False,
    )
    litestar.state.runtime = runtime
    middleware = GharartMiddleware(litestar, runtime)
    for module in modules:
        for make in getattr(module, "FAST_PATHS", []):
            middleware.fast_paths.append(make(runtime, litestar))
    return GharartApp(litestar, middleware, runtime)
