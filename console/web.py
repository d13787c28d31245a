"""What every console page shares: who is signed in (the session cookie), rendering, forms and their errors.

The console is a second face of the same services: a page parses a form into the API's own input schema,
calls the service the JSON controller calls inside one unit of work, and renders the answer. A rule is never
written twice; an error is the API's error with the API's title, shown next to the field it is about.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from pydantic import BaseModel, ValidationError

from console.i18n import error_title, is_english, translate
from linli.auth.security import CurrentUser, user_of_token
from linli.errors import DomainError
from linli.idempotency import respond_once
from linli.settings import get_settings

# The same bearer token as the API, in a cookie the page's scripts cannot read (HttpOnly) and other sites
# cannot make the browser send with a form (SameSite=Lax; every form also carries a CSRF token).
SESSION_COOKIE = "linli_session"

ModelT = TypeVar("ModelT", bound=BaseModel)


class SignInRequired(Exception):
    """A page that needs a signed-in user was asked for without a valid session: go to the sign-in page."""


async def viewer_or_none(request: Request[Any, Any, Any]) -> CurrentUser | None:
    return await user_of_token(request.cookies.get(SESSION_COOKIE))


async def signed_in(request: Request[Any, Any, Any]) -> CurrentUser:
    """The console's `viewer` dependency: the signed-in user, or off to the sign-in page."""
    user = await viewer_or_none(request)
    if user is None:
        raise SignInRequired
    return user


# How a page asks for its signed-in user: `viewer: Viewer` (provided by the console router).
Viewer = NamedDependency[CurrentUser]


def session_cookie(token: str | None) -> Cookie:
    """The session cookie carrying `token`, or one that clears it (token None)."""
    settings = get_settings()
    return Cookie(
        key=SESSION_COOKIE,
        value=token or "",
        max_age=int(settings.token_lifetime.total_seconds()) if token else 0,
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )


def safe_next(target: str | None, default: str = "/") -> str:
    """Only paths on this site: `next=https://evil.example` must not turn sign-in into an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def sign_in_url(request: Request[Any, Any, Any]) -> str:
    path = request.scope["path"]
    query = request.scope.get("query_string", b"").decode("latin-1")
    return "/login?next=" + quote(path + (f"?{query}" if query else ""), safe="")


def redirect(url: str) -> Redirect:
    # 303: the browser follows a POST's answer with a GET, so reloading the next page never re-submits the form.
    return Redirect(path=url, status_code=303)


# --- rendering -----------------------------------------------------------------------------------------------


def yuan(fen: int | None) -> str:
    """Money for people: 1250 fen -> "¥12.50" (the sign every reader knows, in either language)."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def local_time(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M", tz: str | None = None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(tz or get_settings().default_timezone))
    return value.strftime(fmt)


def hours(minutes: int | None) -> str:
    if not minutes:
        return "0"
    return f"{minutes / 60:.1f}".rstrip("0").rstrip(".")


# What a page says after a form succeeded (POST, then a 303 to `?notice=<key>`): key -> Chinese text, translated
# like any other word. Each area of the console registers its own with `notices(...)`.
NOTICES: dict[str, str] = {}


def notices(**texts: str) -> None:
    for key, text in texts.items():
        if NOTICES.get(key, text) != text:
            raise ValueError(f"notice {key!r} registered twice with different words")
        NOTICES[key] = text


def redirect_with(url: str, notice: str) -> Redirect:
    """Off to `url` after a form succeeded, which then says what happened (`notice` is a key of NOTICES)."""
    assert notice in NOTICES, notice
    return redirect(f"{url}{'&' if '?' in url else '?'}notice={notice}")


def page(request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any) -> Template:
    """A page of the console: `template` with `context`, in the request's language, with the notice of the
    form that led here (`?notice=`)."""
    en = is_english(request)
    context.setdefault("errors", {})
    context.setdefault("values", {})
    context.setdefault("notice", NOTICES.get(request.query_params.get("notice") or ""))
    # Where the menu's language link comes back to: this page (a GET's own address; a form's page otherwise).
    query = request.scope.get("query_string", b"").decode("latin-1")
    here = request.scope["path"] + (f"?{query}" if query else "") if request.method == "GET" else "/"
    context.setdefault("here", here)
    return Template(
        template_name=template,
        context={**context, "en": en, "lang": "en" if en else "zh-CN"},
        status_code=status_code,
    )


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


# --- forms ---------------------------------------------------------------------------------------------------

# Plain words for what pydantic found wrong with a field, by its error type (the title says it is invalid).
_FIELD_HINTS: dict[str, str] = {
    "missing": "请填写此项",
    "string_too_short": "内容太短",
    "string_too_long": "内容太长",
    "string_pattern_mismatch": "格式不正确",
    "int_parsing": "请输入整数",
    "int_from_float": "请输入整数",
    "greater_than_equal": "数值太小",
    "greater_than": "数值太小",
    "less_than_equal": "数值太大",
    "less_than": "数值太大",
    "uuid_parsing": "请从列表中选择",
    "datetime_parsing": "请填写正确的时间",
    "datetime_from_date_parsing": "请填写正确的时间",
    "date_from_datetime_parsing": "请填写正确的日期",
    "date_parsing": "请填写正确的日期",
    "enum": "请从列表中选择",
    "literal_error": "请从列表中选择",
    "bool_parsing": "请选择是或否",
    "value_error": "格式不正确",
    "json_invalid": "格式不正确",
    "list_type": "请从列表中选择",
}


class FormErrors(Exception):
    """What is wrong with a submitted form: field name -> the words shown next to it (`__all__`: the form)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(dict(errors))
        self.errors = dict(errors)


async def form_of(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The submitted form as a dict (repeated names become lists; the CSRF token is not part of the data)."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        if key == "_csrf_token":
            continue
        values = form.getall(key)
        data[key] = values if len(values) > 1 else values[0]
    return data


def blank_to_none(data: Mapping[str, Any]) -> dict[str, Any]:
    """An empty text box means "not given", as a missing JSON key would."""
    return {k: (None if v == "" else v) for k, v in data.items()}


def parse(request: Request[Any, Any, Any], model: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    """The form as the API's own input schema, or FormErrors with a plain hint for each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        en = is_english(request)
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "__all__"
            hint = _FIELD_HINTS.get(error["type"])
            text = translate(hint, en=en) if hint else str(error.get("msg", ""))
            errors.setdefault(field, f"{error_title('validation_error', en=en)}:{text}")
        raise FormErrors(errors) from exc


def domain_errors(
    request: Request[Any, Any, Any], exc: DomainError, fields: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A service's refusal as form errors: the API's title, next to the field the code is about.

    A 403 or 404 is not about the form: it is raised again, so the page is refused whole (the console's error
    page, nothing of the object shown), exactly as the API refuses the request."""
    if exc.status_code in (403, 404):
        raise exc
    field = (fields or {}).get(exc.code, "__all__")
    return {field: error_title(exc.code, en=is_english(request))}


def form_key(data: dict[str, Any]) -> str | None:
    """Take the form's hidden `idempotency_key` out of its data (made when the form was rendered)."""
    return str(data.pop("idempotency_key", "") or "")[:200] or None


async def create_once(
    *,
    viewer: CurrentUser,
    key: str | None,
    path: str,
    model: BaseModel,
    run: Callable[[], Awaitable[BaseModel]],
    status_code: int = 201,
) -> Response[Any]:
    """A creating form's POST, at most once per its hidden key (`linli.idempotency.respond_once`): a double tap
    gets the first answer back. Parse the answer with the Out schema's `model_validate_json(answer.content)`."""
    return await respond_once(
        user_id=viewer.id,
        key=key,
        method="POST",
        path=path,
        body=lambda: model.model_dump(mode="json"),
        status_code=status_code,
        run=run,
    )


def yuan_to_fen(yuan: str) -> Any:
    """A typed amount in yuan ("1,200.50", "-5") as integer fen; text that is not an amount is passed on as it
    is, for the API's schema to refuse with its own words."""
    cleaned = yuan.replace(",", "").replace(",", "").replace("元", "").strip()
    sign, digits = (-1, cleaned[1:]) if cleaned.startswith("-") else (1, cleaned)
    whole, _, cents = digits.partition(".")
    if not whole.isdigit() or (cents and (not cents.isdigit() or len(cents) > 2)):
        return cleaned
    return sign * (int(whole) * 100 + int((cents + "00")[:2]))


def money(field: str, yuan: Any) -> dict[str, Any]:
    """`{field: fen}` for a form's amount in yuan; nothing when it was left empty (the schema then asks for it)."""
    text = str(yuan or "").strip()
    return {field: yuan_to_fen(text)} if text else {}


__all__ = [
    "SESSION_COOKIE",
    "FormErrors",
    "SignInRequired",
    "Viewer",
    "blank_to_none",
    "create_once",
    "domain_errors",
    "form_key",
    "form_of",
    "is_htmx",
    "local_time",
    "money",
    "notices",
    "page",
    "parse",
    "redirect",
    "redirect_with",
    "safe_next",
    "session_cookie",
    "sign_in_url",
    "signed_in",
    "viewer_or_none",
    "yuan",
    "yuan_to_fen",
]
