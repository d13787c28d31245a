"""The web console's router: its pages, its static files, its templates and how it shows errors.

Mounted by `server.app.create_app` beside the API in the same process. Every page route is public to the
API's bearer-token check (`public` opt) and does its own sign-in through the session cookie
(`console.web.signed_in`); every form is protected by Litestar's CSRF middleware, which runs on this router
only, so the JSON API pays nothing for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
from jinja2 import Environment, FileSystemLoader, pass_context
from litestar import Request, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from console import web
from console.i18n import error_title, translate
from linli.errors import DomainError, unavailable
from linli.logging import request_id_of
from linli.settings import get_settings

HERE = Path(__file__).parent
log = structlog.get_logger("console")


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True)

    @pass_context
    def _(context: Any, text: str) -> str:
        return translate(text, en=bool(context.get("en")))

    environment.globals.update(web_globals(), _=_)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def web_globals() -> dict[str, Any]:
    return {"yuan": web.yuan, "local_time": web.local_time, "hours": web.hours, "title_of": _title_of}


@pass_context
def _title_of(context: Any, code: str) -> str:
    return error_title(code, en=bool(context.get("en")))


def _error_page(request: Request[Any, Any, Any], status_code: int, code: str) -> Response[Any]:
    return web.page(
        request,
        "error.html",
        status_code=status_code,
        code=code,
        request_id=request_id_of(request.scope),
        viewer=None,
    )


def _on_sign_in_required(request: Request[Any, Any, Any], _exc: web.SignInRequired) -> Response[Any]:
    if web.is_htmx(request):  # a part of a page cannot become the sign-in page: ask HTMX to load it whole
        return Response(b"", status_code=401, headers={"HX-Redirect": web.sign_in_url(request)})
    return web.redirect(web.sign_in_url(request))


def _on_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return _error_page(request, exc.status_code, exc.code)


def _on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, PermissionDeniedException):
        code = "csrf_failed" if "CSRF" in str(exc.detail) else "forbidden"
    elif isinstance(exc, NotFoundException):
        code = "not_found"
    elif exc.status_code == 413:
        code = "payload_too_large"
    elif exc.status_code == 405:
        code = "method_not_allowed"
    else:
        code = "bad_request"
    return _error_page(request, exc.status_code, code)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if unavailable(exc):  # PostgreSQL or Redis away for a moment: "try again shortly", as the API says it
        log.warning("console_page_unavailable", path=request.scope["path"], error=type(exc).__name__)
        response = _error_page(request, 503, "service_unavailable")
        response.headers["Retry-After"] = "2"
        return response
    log.exception("console_page_failed", path=request.scope["path"], error=type(exc).__name__)
    return _error_page(request, 500, "internal_error")


def _pages() -> list[ControllerRouterHandler]:
    from console.catalog_pages import CatalogPages
    from console.community_pages import CommunityPages
    from console.desk_partner import DeskPartnerPages
    from console.fund_pages import FundPages
    from console.home import HomeController
    from console.message_pages import MessagePages
    from console.partner_pages import PartnerPages
    from console.staff_pages import StaffPages
    from console.verify import VerifyController
    from console.volunteer_pages import VolunteerPages

    pages: list[ControllerRouterHandler] = [
        HomeController,
        MessagePages,
        VerifyController,
        CatalogPages,
        VolunteerPages,
        FundPages,
        PartnerPages,
        DeskPartnerPages,
        StaffPages,
        CommunityPages,
    ]
    return pages


def console_router() -> Router:
    settings = get_settings()
    csrf = CSRFConfig(
        secret=settings.secret_key.get_secret_value(),
        cookie_name="linli_csrf",
        cookie_secure=settings.cookie_secure,
        cookie_httponly=True,  # forms carry it in a hidden field; HTMX sends it from the page's meta tag
        cookie_samesite="lax",
        header_name="x-csrftoken",
    )
    static = create_static_files_router(
        path="/static", directories=[HERE / "static"], opt={"public": True}, include_in_schema=False
    )
    return Router(
        path="/",
        route_handlers=[*_pages(), static],
        opt={"public": True},
        middleware=[DefineMiddleware(CSRFMiddleware, config=csrf)],
        dependencies={"viewer": Provide(web.signed_in)},
        exception_handlers={
            web.SignInRequired: _on_sign_in_required,
            DomainError: _on_domain_error,
            HTTPException: _on_http_error,
            Exception: _on_unexpected,
        },
        include_in_schema=False,
    )


__all__ = ["console_router", "template_config"]
