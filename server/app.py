"""The application factory: one place that composes every domain's controllers and the shared plumbing."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, cast

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.exceptions import ImproperlyConfiguredException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp, Receive, Scope, Send

from console.app import console_router, template_config
from linli import db, metrics
from linli.auth.callers import keep_fresh
from linli.auth.security import Authenticator, CurrentUser
from linli.errors import exception_handlers
from linli.health import HealthController
from linli.logging import RequestLog, configure_logging
from linli.openapi import BEARER, TimeOfDay, document_problems
from linli.redis import close_redis
from linli.settings import get_settings
from server.admin import admin_mount


@asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncIterator[None]:
    await db.start_pool()
    # Everything alive now (modules, routes, schemas) lives as long as the process: moving it out of the
    # collector's generations keeps full collections short under load instead of re-walking it every time.
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    listener = asyncio.create_task(keep_fresh(stop))
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(listener, timeout=10)
        await db.close_pool()
        await close_redis()


# The scope of the HTTP request this task is serving, set by the outermost middleware for the request's length.
# It lets the `user` dependency take no parameters: Litestar then parses no signature for it, which costs about
# 3 % of a booking's instructions (bench.booking.instructions).
_serving: ContextVar[Scope | None] = ContextVar("linli_serving", default=None)


def _current_user() -> CurrentUser:
    """The caller that authentication put in this very request's scope (as `request.user` would answer)."""
    scope = _serving.get()
    if scope is None or "user" not in scope:
        raise ImproperlyConfiguredException("'user' is not defined in scope, install an AuthMiddleware to set it")
    return cast(CurrentUser, scope["user"])


def api_controllers() -> list[Any]:
    """Every domain's controllers, mounted under /api/v1."""
    from community.controllers import CommunityController, MeController, PriorityGroupController
    from linli.auth.controllers import AuthController
    from marketplace.controllers import CONTROLLERS as MARKETPLACE_CONTROLLERS
    from notifications.controllers import NotificationController
    from partners.controllers import OfferingController, PartnerController
    from scheduling.controllers import OfferingSlotController, ScheduleController, SlotController
    from volunteers.controllers import CONTROLLERS as VOLUNTEER_CONTROLLERS
    from welfare.controllers import CONTROLLERS as WELFARE_CONTROLLERS

    return [
        AuthController,
        MeController,
        CommunityController,
        PriorityGroupController,
        NotificationController,
        PartnerController,
        OfferingController,
        OfferingSlotController,
        SlotController,
        ScheduleController,
        *MARKETPLACE_CONTROLLERS,
        *WELFARE_CONTROLLERS,
        *VOLUNTEER_CONTROLLERS,
    ]


def request_middleware(authenticate: Authenticator) -> Callable[[ASGIApp], ASGIApp]:
    """Every HTTP request: its id on every log line and in X-Request-ID (`RequestLog`), at most one database
    connection, shared by authentication and its unit of work (`db.request_scope`), its caller (`authenticate`)
    and its scope for the `user` dependency. One layer for all: every request pays for each layer it passes."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            record = RequestLog(scope)
            serving = _serving.set(scope)
            try:
                async with db.request_scope():
                    await authenticate(scope)
                    await app(scope, receive, record.wrap(send))
            except Exception as exc:
                # Answered by the app's exception handlers outside this layer, through the unwrapped `send`: log
                # the status they give it (HTTP and domain errors carry it; anything else is a 500).
                record.status = getattr(exc, "status_code", 500)
                raise
            finally:
                _serving.reset(serving)
                record.finish(scope)
                metrics.observe_request(scope["method"], scope["path_template"], record.status, record.started)  # type: ignore[typeddict-item]

        return middleware

    return wrap


# The domains' counters, read from committed rows when /metrics is scraped (see linli.metrics.DatabaseTotal).
DOMAIN_TOTALS = (
    metrics.DatabaseTotal("linli_bookings", "Bookings made (any status since)", "SELECT count(*) FROM bookings"),
    metrics.DatabaseTotal(
        "linli_settlements",
        "Settlement runs completed",
        "SELECT count(*) FROM settlement_runs WHERE status = 'completed'",
    ),
    metrics.DatabaseTotal(
        "linli_volunteer_approved_minutes",
        "Volunteer minutes approved (corrections not included)",
        "SELECT coalesce(sum(minutes), 0) FROM volunteer_hours_entries WHERE kind = 'approval'",
    ),
)


def create_app() -> Litestar:
    settings = get_settings()
    configure_logging()
    authenticate = Authenticator(secret=settings.secret_key.get_secret_value())
    api = Router(path="/api/v1", route_handlers=api_controllers())
    app = Litestar(
        route_handlers=[api, HealthController, metrics.metrics_handler(DOMAIN_TOTALS), console_router(), admin_mount()],
        template_config=template_config(),
        lifespan=[_lifespan, metrics.lifespan],
        middleware=[request_middleware(authenticate)],
        dependencies={"user": Provide(_current_user, sync_to_thread=False)},
        exception_handlers=exception_handlers,
        plugins=[TimeOfDay()],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Linli 邻里 API",
            version="1.0.0",
            description="Community services, volunteers and the welfare fund. Errors are RFC 9457 problem+json.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(path="/"), JsonRenderPlugin()],  # /schema/ (the console has /)
            # Each operation that needs a token says so (linli.openapi.document_problems); public ones do not.
            components=Components(
                security_schemes={BEARER: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
        ),
        debug=False,
    )
    document_problems(app)
    return app
