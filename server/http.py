"""uvicorn's HTTP protocol with the two timeouts it lacks: for a request's head and for its body.

uvicorn closes idle keep-alive connections, but a client that opens a connection and sends its headers a byte
at a time (slow-loris), or a body that never ends, holds the connection for ever, and enough of them use up the
process's file descriptors. Here a request's head must arrive within `LINLI_HTTP_HEAD_TIMEOUT_SECONDS` of the
connection opening (or of its first byte, on a kept-alive connection), and its body within
`LINLI_HTTP_BODY_TIMEOUT_SECONDS` of the head; otherwise the connection is closed. Once the body is in, the
application takes as long as it needs.
"""

from __future__ import annotations

import asyncio

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from linli.settings import get_settings

log = structlog.get_logger("linli.http")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    _deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, part: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow, part)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self, part: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.warning("slow_client_closed", waiting_for=part, client=self.client)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(get_settings().http_head_timeout_seconds, "head")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # the next request on a kept-alive connection
            self._arm(get_settings().http_head_timeout_seconds, "head")

    def on_headers_complete(self) -> None:
        self._arm(get_settings().http_body_timeout_seconds, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
