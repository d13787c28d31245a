"""Sign-up, sign-in and the start page that leads each person to the part of the console that is theirs."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from community import services as community
from console import web
from console.i18n import LANGUAGE_COOKIE, LANGUAGES
from linli import db
from linli.auth import services as accounts
from linli.auth.schemas import RegisterIn, TokenIn
from linli.errors import DomainError, NotFound
from linli.settings import get_settings
from marketplace.services import access as proxy
from partners import services as partners

# Which field a refusal of the account services is about.
_ACCOUNT_FIELDS = {"invalid_credentials": "password", "phone_taken": "phone", "community_not_found": "community_id"}


def _client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


async def _signed_in_to(request: Request[Any, Any, Any], *, phone: str, password: str, target: str) -> Response[Any]:
    token = await accounts.issue_token(phone=phone, password=password, client_ip=_client_ip(request))
    response = web.redirect(web.safe_next(target))
    response.set_cookie(web.session_cookie(token.access_token))
    return response


async def _community_options() -> list[tuple[str, str]]:
    return [(str(c.id), c.name) for c in await community.get_all(limit=100)]


class HomeController(Controller):
    path = "/"

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Template:
        viewer = await web.viewer_or_none(request)
        communities = await community.get_all(limit=100)
        if viewer is None:
            return web.page(request, "welcome.html", viewer=None, communities=communities)
        me = await community.me(user=viewer)
        workplaces = await partners.workplaces(user=viewer)
        # Staff and grid workers book for residents (代办): offer it to those who have someone to act for.
        may_proxy = [
            c for c in me.communities if await proxy.proxy_residents(actor=viewer, community_id=c.community_id)
        ]
        return web.page(
            request,
            "home.html",
            viewer=viewer,
            me=me,
            workplaces=workplaces,
            communities=communities,
            may_proxy=may_proxy,
        )

    @get("/login")
    async def login_form(self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None) -> Template:
        return web.page(request, "login.html", viewer=None, next=web.safe_next(next))

    @post("/login")
    async def login(self, request: Request[Any, Any, Any]) -> Response[Any]:
        data = await web.form_of(request)
        target = web.safe_next(data.pop("next", None))
        try:
            credentials = web.parse(request, TokenIn, data)
            return await _signed_in_to(request, phone=credentials.phone, password=credentials.password, target=target)
        except web.FormErrors as bad:
            errors = bad.errors
        except DomainError as exc:
            errors = web.domain_errors(request, exc, _ACCOUNT_FIELDS)
        data.pop("password", None)  # never echoed back into the page
        return web.page(request, "login.html", viewer=None, next=target, values=data, errors=errors, status_code=400)

    @get("/signup")
    async def signup_form(self, request: Request[Any, Any, Any]) -> Template:
        return web.page(request, "signup.html", viewer=None, community_options=await _community_options())

    @post("/signup")
    async def signup(self, request: Request[Any, Any, Any]) -> Response[Any]:
        data = await web.form_of(request)
        try:
            register_in = web.parse(request, RegisterIn, web.blank_to_none(data))
            async with db.unit_of_work():
                await accounts.register(register_in=register_in)
            return await _signed_in_to(request, phone=register_in.phone, password=register_in.password, target="/")
        except web.FormErrors as bad:
            errors = bad.errors
        except DomainError as exc:
            errors = web.domain_errors(request, exc, _ACCOUNT_FIELDS)
        data.pop("password", None)
        return web.page(
            request,
            "signup.html",
            viewer=None,
            community_options=await _community_options(),
            values=data,
            errors=errors,
            status_code=400,
        )

    @post("/logout")
    async def logout(self, viewer: web.Viewer) -> Response[Any]:
        response = web.redirect("/")
        response.set_cookie(web.session_cookie(None))
        return response

    @get("/language/{lang:str}")
    async def choose_language(self, lang: FromPath[str], next: FromQuery[str | None] = None) -> Response[Any]:
        """中文 / English from the menu: kept for a year on this browser, then back to the page it was chosen on."""
        if lang not in LANGUAGES:
            raise NotFound("no such language")
        response = web.redirect(web.safe_next(next))
        response.set_cookie(
            LANGUAGE_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            secure=get_settings().cookie_secure,
            samesite="lax",
            httponly=True,
        )
        return response

    @get("/account")
    async def account(self, request: Request[Any, Any, Any], viewer: web.Viewer) -> Template:
        return web.page(request, "account.html", viewer=viewer, me=await community.me(user=viewer))
