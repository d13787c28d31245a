"""The one error model: domain errors and HTTP errors become RFC 9457 problem+json.

Every problem has a stable machine `code`, a Chinese `title` by default and an English one when the client
prefers English (`Accept-Language: en`). Domain packages raise `DomainError` subclasses (or `DomainError`
with a code registered through `register_code`) and never build HTTP responses themselves.
"""

from __future__ import annotations

from typing import Any, ClassVar

import asyncpg
import redis.exceptions
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from linli.logging import request_id_of

log = structlog.get_logger("linli.errors")

PROBLEM_JSON = "application/problem+json"

# code -> (status, zh title, en title). Domain packages add theirs with `register_code`.
_CODES: dict[str, tuple[int, str, str]] = {
    "bad_request": (400, "请求有误", "Bad request"),
    "validation_error": (422, "提交的数据不符合要求", "The submitted data is invalid"),
    "malformed_body": (400, "请求内容无法解析", "The request body could not be parsed"),
    "unauthorized": (401, "请先登录", "Authentication required"),
    "invalid_credentials": (401, "手机号或密码错误", "Wrong phone number or password"),
    "token_invalid": (401, "登录已失效,请重新登录", "The token is invalid or expired"),
    "forbidden": (403, "无权进行此操作", "You are not allowed to do this"),
    "not_found": (404, "找不到该资源", "Not found"),
    "route_not_found": (404, "接口不存在", "No such endpoint"),
    "method_not_allowed": (405, "不支持该请求方法", "Method not allowed"),
    "conflict": (409, "与当前状态冲突", "Conflict with the current state"),
    "invalid_transition": (409, "当前状态不允许此操作", "This action is not allowed in the current state"),
    "idempotency_key_reused": (
        422,
        "同一幂等键已用于不同的请求",
        "This Idempotency-Key was used with a different request",
    ),
    "idempotency_in_progress": (409, "相同请求正在处理中", "The same request is still being processed"),
    "payload_too_large": (413, "请求内容过大", "The request body is too large"),
    "unsupported_media_type": (415, "不支持的内容类型", "Unsupported media type"),
    "too_many_requests": (429, "尝试次数过多,请稍后再试", "Too many attempts, try again later"),
    "phone_taken": (409, "该手机号已注册", "This phone number is already registered"),
    "csrf_failed": (403, "页面已过期,请刷新后重试", "The page expired: reload it and try again"),
    "service_unavailable": (503, "服务暂不可用", "Service unavailable"),
    "internal_error": (500, "服务器内部错误", "Internal server error"),
}


def register_code(code: str, status: int, title_zh: str, title_en: str) -> str:
    """Declare a domain error code once, where its domain lives; returns the code for use as a constant."""
    existing = _CODES.get(code)
    if existing is not None and existing != (status, title_zh, title_en):
        raise ValueError(f"error code {code!r} registered twice with different meanings")
    _CODES[code] = (status, title_zh, title_en)
    return code


def titles(code: str) -> tuple[int, str, str]:
    return _CODES.get(code, _CODES["bad_request"])


class DomainError(Exception):
    """An expected failure of a business rule; `code` must be registered."""

    code: ClassVar[str] = "bad_request"

    def __init__(
        self, detail: str | None = None, *, code: str | None = None, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or code or self.code)
        self.detail = detail
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.headers = headers  # e.g. Retry-After on a 429
        self.extra = extra

    @property
    def status_code(self) -> int:
        return titles(self.code)[0]


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class InvalidTransition(DomainError):
    """A state machine refused a transition; `detail` says from what to what."""

    code = "invalid_transition"

    def __init__(self, *, entity: str, current: str, action: str) -> None:
        super().__init__(
            f"{entity} is {current}; cannot {action}", entity=entity, current_status=current, action=action
        )


class BadInput(DomainError):
    code = "validation_error"


def prefers_english(request: Request[Any, Any, Any]) -> bool:
    """True when the client ranks English above Chinese in Accept-Language."""
    header = request.headers.get("accept-language", "")
    best_lang, best_q = "zh", -1.0
    for part in header.split(","):
        pieces = part.strip().split(";")
        lang = pieces[0].strip().lower()
        if not lang:
            continue
        q = 1.0
        for p in pieces[1:]:
            p = p.strip()
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        if (lang.startswith("en") or lang.startswith("zh")) and q > best_q:
            best_lang, best_q = lang[:2], q
    return best_lang == "en"


def problem(
    request: Request[Any, Any, Any],
    code: str,
    *,
    status: int | None = None,
    detail: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    default_status, zh, en = titles(code)
    body: dict[str, Any] = {
        "type": f"https://linli.org.cn/problems/{code.replace('_', '-')}",
        "title": en if prefers_english(request) else zh,
        "status": status or default_status,
        "code": code,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    body["request_id"] = request_id_of(request.scope)
    if extra:
        body.update(extra)
    # The middleware adds the header on matched routes; unmatched ones (404/405) get it here.
    headers = {"X-Request-ID": body["request_id"], **(headers or {})}
    return Response(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def _domain_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    return problem(request, exc.code, detail=exc.detail, extra=exc.extra or None, headers=exc.headers)


def _http_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    extra: dict[str, Any] | None = None
    detail: str | None = None
    if isinstance(exc, ValidationException):
        code = "validation_error"
        errors = exc.extra if isinstance(exc.extra, list) else None
        # A body that is not JSON at all reaches us as a validation error without field errors.
        if not errors and "decode" in str(exc.detail).lower():
            code, status = "malformed_body", 400
        extra = {"errors": _clean_errors(errors)} if errors else None
        detail = None if errors else str(exc.detail)
        if code == "validation_error":
            status = 422
    elif isinstance(exc, NotAuthorizedException):
        code = "unauthorized" if "No JWT" in str(exc.detail) or "No auth" in str(exc.detail) else "token_invalid"
    elif isinstance(exc, PermissionDeniedException):
        code = "forbidden"
    elif isinstance(exc, NotFoundException):
        code = "route_not_found"
    elif isinstance(exc, MethodNotAllowedException):
        code = "method_not_allowed"
    elif status == 413:
        code = "payload_too_large"
    elif status == 415:
        code = "unsupported_media_type"
    elif status == 429:
        code = "too_many_requests"
    elif status == 400:
        code = "malformed_body"
    elif status >= 500:
        log.error("http_error", status=status, detail=exc.detail)
        code = "service_unavailable" if status == 503 else "internal_error"
    else:
        code = "bad_request"
    return problem(request, code, status=status, detail=detail, extra=extra, headers=exc.headers)


def _clean_errors(errors: list[Any]) -> list[dict[str, Any]]:
    # Only what the client needs to fix its input; never echo huge inputs back.
    out = []
    for e in errors[:50]:
        if isinstance(e, dict):
            key, message = str(e.get("key", ""))[:200], str(e.get("message", ""))[:300]
            if key == "data" and message in ("'data'", "data"):
                # Litestar's wording when the body is missing altogether.
                key, message = "", "a JSON request body is required"
            out.append({"key": key, "message": message})
    return out


# The database or Redis out of reach or out of connections: a retryable 503, not a bug. 57P01 admin shutdown,
# 57P02 crash shutdown, 57P03 cannot connect now and 57014 statement timeout are OperatorInterventionErrors.
UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    redis.exceptions.ConnectionError,
    ConnectionError,  # refused, reset or aborted by the server going away
    TimeoutError,
)
# What asyncpg's client-side errors say of a connection the server dropped under it (PostgreSQL stopped
# mid-request): the socket is gone, or the protocol was left halfway through its operation. Others are our bugs.
_CONNECTION_LOST = (
    "connection is closed",
    "connection was closed",
    "another operation",
    "cannot switch to state",
    "released back to the pool",  # the pool took back a connection the server closed, mid-unit-of-work
)


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` means a dependency is out of reach (answer 503, try again later) rather than a bug."""
    if isinstance(exc, asyncpg.exceptions.InterfaceError | asyncpg.exceptions.InternalClientError):
        return any(words in str(exc) for words in _CONNECTION_LOST)
    return isinstance(exc, UNAVAILABLE)


def log_retried(logger: Any, event: str, exc: BaseException) -> None:
    """How a background loop (the outbox relay, the scheduler) reports a pass that failed and will be tried
    again: a dependency out of reach is expected, a warning; anything else is a bug, logged with its traceback."""
    if unavailable(exc):
        logger.warning(event, error_type=type(exc).__name__, error=str(exc)[:200])
    else:
        logger.exception(f"{event}_unexpectedly", error_type=type(exc).__name__)


def _unavailable_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if not unavailable(exc):
        return _unexpected_handler(request, exc)
    log.warning("dependency_unavailable", path=request.url.path, error_type=type(exc).__name__, error=str(exc)[:200])
    return problem(request, "service_unavailable", status=503, headers={"Retry-After": "2"})


def _unexpected_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return problem(request, "internal_error", status=HTTP_500_INTERNAL_SERVER_ERROR)


def _recursion_handler(request: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, Any]]:
    # msgspec gives up on a JSON body nested deeper than the interpreter's recursion limit (`[[[[…]]]]`) with
    # this error instead of a decode error; that is the client's malformed input. Anywhere else it is our bug.
    if "while deserializing" in str(exc):
        return problem(request, "malformed_body", detail="the JSON body is nested too deeply")
    return _unexpected_handler(request, exc)


exception_handlers: dict[type[Exception] | int, Any] = {
    DomainError: _domain_handler,
    HTTPException: _http_handler,
    **dict.fromkeys(UNAVAILABLE, _unavailable_handler),
    RecursionError: _recursion_handler,
    Exception: _unexpected_handler,
}

__all__ = [
    "PROBLEM_JSON",
    "UNAVAILABLE",
    "BadInput",
    "Conflict",
    "DomainError",
    "Forbidden",
    "InvalidTransition",
    "MediaType",
    "NotFound",
    "exception_handlers",
    "problem",
    "register_code",
    "unavailable",
]
