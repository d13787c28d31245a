"""piccolo-admin at /admin: platform admins browse the tables staff legitimately look at, read-only.

Who may enter is Linli's rule, not piccolo-admin's: piccolo-admin signs people in against its own user and session
tables (piccolo_user, sessions), which would be a second set of accounts and passwords to keep in step. Instead the
admin is entered with the console's session (the `linli_session` cookie, the same token as the API's bearer) of a
platform admin: a guard in front of the whole mount answers everyone else, and the admin's private API checks the
same token again in place of piccolo-admin's session backend. Signing out of the admin signs out of the console.

Read-only, every table: a write through a generic CRUD screen would bypass what the services guarantee (a slot's
capacity, the booking and partner state machines, the outbox, the audit trail); the welfare ledger is append-only
in the database besides. Changes go through the console and the API.
"""

from __future__ import annotations

import functools
import hmac
from typing import Any, cast
from urllib.parse import quote

from litestar import asgi
from litestar.handlers import ASGIRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount

from console.web import SESSION_COOKIE
from linli.auth.security import CurrentUser, bearer_token, user_of_token
from linli.errors import Forbidden, NotFound, register_code

ADMIN_FORBIDDEN = register_code(
    "admin_forbidden", 403, "管理后台仅供平台管理员使用", "The admin is for platform admins only"
)
MOUNT_PATH = "/admin"
# piccolo-admin's own sign-in, password change and MFA work on its own user table, which Linli does not use.
_NOT_HERE = ("/api/change-password/", "/api/mfa-setup/")


def admin_tables() -> list[Any]:
    """The tables of the admin, each read-only (see the module's docstring): communities, partners, offerings,
    slots, bookings, volunteers, tasks, and the welfare ledger."""
    from piccolo_admin.endpoints import OrderBy, TableConfig

    from community.tables import Community
    from marketplace.tables import Booking
    from partners.tables import Offering, Partner
    from scheduling.tables import Slot
    from volunteers.tables import Task, Volunteer
    from welfare.tables import LedgerAccount, LedgerEntry, LedgerTransaction

    def newest_first(table: Any, group: str, *, order: Any = None) -> TableConfig:
        column = order if order is not None else table.created_at
        return TableConfig(table, menu_group=group, order_by=[OrderBy(column, ascending=False)])

    return [
        newest_first(Community, "社区"),
        newest_first(Partner, "社区合伙人"),
        newest_first(Offering, "社区合伙人"),
        newest_first(Slot, "预约", order=Slot.starts_at),
        newest_first(Booking, "预约"),
        # Real-name data stays as the profile keeps it: the masked number, never the full one (volunteers.identity).
        newest_first(Volunteer, "志愿服务"),
        newest_first(Task, "志愿服务", order=Task.starts_at),
        newest_first(LedgerAccount, "福利基金账本"),
        newest_first(LedgerTransaction, "福利基金账本"),
        TableConfig(LedgerEntry, menu_group="福利基金账本"),
    ]


class PlatformAdmin(BaseUser):
    """The caller as piccolo-admin's endpoints read it (`request.user.display_name`, `.user_id`)."""

    def __init__(self, user: CurrentUser) -> None:
        self.user = user

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.user.name

    @property
    def user_id(self) -> str:
        return str(self.user.id)


def _cookie(scope: Any, name: str) -> str | None:
    return HTTPConnection(scope).cookies.get(name)


async def caller_of(scope: Any) -> CurrentUser | None:
    """Who the request is from: the console's session cookie, else a bearer token (as the API reads one)."""
    return await user_of_token(_cookie(scope, SESSION_COOKIE) or bearer_token(scope))


class LinliPlatformAdmins(AuthenticationBackend):
    """In place of piccolo-admin's session backend on its private API: the same check as the guard's."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        user = await caller_of(conn.scope)
        if user is None or not user.is_platform_admin:
            raise AuthenticationError("platform admins only")
        return AuthCredentials(["authenticated"]), PlatformAdmin(user)


def _refused(_conn: HTTPConnection, _exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "platform admins only"}, status_code=403)


@functools.cache
def admin_app() -> ASGIApp:
    """piccolo-admin over `admin_tables()`, its private API authenticated by `LinliPlatformAdmins`; built on the
    first visit (0.4 s of imports and set-up that an API process nobody administers through never pays)."""
    from piccolo_admin.endpoints import create_admin
    from piccolo_admin.translations.data import ENGLISH, SIMPLIFIED_CHINESE

    app = create_admin(
        admin_tables(),
        read_only=True,
        # Only the tables listed: following foreign keys would add `users` (password hashes) to the admin.
        auto_include_related=False,
        site_name="邻里 Linli 管理后台",
        default_language_code="zh-CN",
        translations=[SIMPLIFIED_CHINESE, ENGLISH],
    )
    # create_admin wraps its private API in its own session middleware; the only seam is that mount. Failing
    # here (a piccolo-admin that builds its app differently) is meant: the admin must not start unguarded.
    [api] = [r for r in app.routes if isinstance(r, Mount) and r.path == "/api"]
    if not isinstance(api.app, AuthenticationMiddleware):
        raise RuntimeError("piccolo-admin's /api mount is not what server.admin expects: its guard would be lost")
    api.app = AuthenticationMiddleware(api.app.app, backend=LinliPlatformAdmins(), on_error=_refused)
    return app


def _sign_out(scope: Any) -> Response:
    """piccolo-admin's sign-out button: end the console session (there is only one). Checked like piccolo-admin's
    own forms: the X-CSRFToken header must equal its csrftoken cookie, so another site cannot sign anyone out."""
    conn = HTTPConnection(scope)
    header, cookie = conn.headers.get("x-csrftoken", ""), conn.cookies.get("csrftoken", "")
    if not header or not hmac.compare_digest(header, cookie):
        raise Forbidden("the sign-out needs its CSRF token", code=ADMIN_FORBIDDEN)
    response = JSONResponse({"status": "signed out"})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


async def _guard(scope: dict[str, Any]) -> Response | None:
    """What the guard answers itself (None: piccolo-admin answers); raises the refusals."""
    path = scope["path"]  # within the mount
    if scope.get("raw_path") == MOUNT_PATH.encode():
        # The single-page app loads its assets relative to the page: it must be served at /admin/.
        return RedirectResponse(MOUNT_PATH + "/", status_code=308)
    user = await caller_of(scope)
    if user is None:
        if scope["method"] == "GET" and path == "/":
            return RedirectResponse("/login?next=" + quote(MOUNT_PATH + "/", safe=""), status_code=303)
        raise Forbidden("sign in as a platform admin first", code=ADMIN_FORBIDDEN)
    if not user.is_platform_admin:
        raise Forbidden("the admin is for platform admins only", code=ADMIN_FORBIDDEN)
    if path.startswith(_NOT_HERE):
        raise NotFound("passwords are changed in the console")
    if path.startswith("/public/logout"):
        return _sign_out(scope)
    if path.startswith("/public/login"):
        # piccolo-admin's own sign-in form: the platform admin is signed in already.
        return RedirectResponse(MOUNT_PATH + "/", status_code=303)
    return None


def admin_mount() -> ASGIRouteHandler:
    """The /admin route for `server.app.create_app`: the guard, then piccolo-admin.

    Signed out: a page request goes to the console's sign-in and comes back; anything else is 403. Signed in but
    not a platform admin: 403 `admin_forbidden` (problem+json, the API's error handlers)."""

    # Public to the API's bearer check (the guard does its own, with the cookie); the scope is copied because
    # piccolo-admin's routers rewrite it.
    @asgi(MOUNT_PATH, is_mount=True, copy_scope=True, opt={"public": True}, include_in_schema=False)
    async def admin(scope: Scope, receive: Receive, send: Send) -> None:
        answer = await _guard(cast(dict[str, Any], scope))
        if answer is not None:
            await answer(cast(Any, scope), cast(Any, receive), cast(Any, send))
            return
        await admin_app()(scope, receive, send)

    return admin
