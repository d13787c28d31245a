"""Structured logs with a request id on every line of a request."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

import structlog
from litestar.types import Message, Scope, Send

from linli.settings import get_settings


def configure_logging() -> None:
    settings = get_settings()
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(settings.log_level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


log = structlog.get_logger("linli.http")


def request_id_of(scope: Scope) -> str:
    """The request's id: set by the middleware, else the client's X-Request-ID (if sane), else a new one.

    Unmatched routes (404/405) never reach route middleware, so their problem responses ask here directly.
    """
    state = scope.setdefault("state", {})  # type: ignore[typeddict-item]
    if "request_id" not in state:
        # ASGI header names are lower-case; a plain scan beats building a dict of every header per request.
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")[:64]
                break
        # 128 random bits as 32 hex digits, like uuid4().hex without building a UUID (0.5 µs against 1.8 µs).
        state["request_id"] = incoming if incoming.replace("-", "").isalnum() else os.urandom(16).hex()
    return str(state["request_id"])


class RequestLog:
    """One HTTP request's log context: its id bound to every log line, echoed as X-Request-ID, and a closing
    `request` line with status and duration. The app's outermost middleware opens one per request
    (`server.app`), around the request's database scope, so the two cost one middleware layer, not two."""

    __slots__ = ("_header", "request_id", "started", "status")

    def __init__(self, scope: Scope) -> None:
        self.request_id = request_id_of(scope)
        self._header = (b"x-request-id", self.request_id.encode())
        structlog.contextvars.bind_contextvars(request_id=self.request_id)
        self.started = time.perf_counter()
        self.status = 500

    def wrap(self, send: Send) -> Send:
        """`send`, noting the status and adding X-Request-ID unless the response has set it (problem responses
        of unmatched routes do, see linli.errors)."""

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append(self._header)
                message["headers"] = headers
            await send(message)

        return send_with_id

    def finish(self, scope: Scope) -> None:
        log.info(
            "request",
            method=scope.get("method"),
            path=scope.get("path"),
            status=self.status,
            ms=round((time.perf_counter() - self.started) * 1000, 1),
        )
        structlog.contextvars.unbind_contextvars("request_id")
