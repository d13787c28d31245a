"""Abusive clients at the socket level: connections that send their request a byte at a time, or never finish."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit


async def trickle(
    base_url: str, at_once: bytes, dribble: bytes, *, every_seconds: float, give_up_after: float
) -> float | None:
    """Open a connection, send `at_once`, then `dribble` one byte every `every_seconds`; returns after how many
    seconds the server closed it, or None if it was still open after `give_up_after` seconds (or all was sent)."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    t0 = time.monotonic()
    try:
        writer.write(at_once)
        await writer.drain()
        for byte in dribble:
            if time.monotonic() - t0 > give_up_after:
                return None
            try:
                writer.write(bytes([byte]))
                await writer.drain()
                # The server closing shows as EOF on a read; wait for it up to the next byte's time.
                data = await asyncio.wait_for(reader.read(65536), timeout=every_seconds)
            except TimeoutError:
                continue
            except (ConnectionError, OSError):
                return time.monotonic() - t0
            if data == b"" or data.startswith(b"HTTP/1.1 4"):
                return time.monotonic() - t0
        return None
    finally:
        writer.close()


async def silent(base_url: str, *, give_up_after: float) -> float | None:
    """Open a connection and send nothing; after how many seconds the server closed it (None: still open)."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(reader.read(65536), timeout=give_up_after)
        return time.monotonic() - t0
    except TimeoutError:
        return None
    except (ConnectionError, OSError):
        return time.monotonic() - t0
    finally:
        writer.close()


def slow_head(host: str) -> tuple[bytes, bytes]:
    """A request head that is never finished in time: one more header line after another."""
    return f"GET /health/live HTTP/1.1\r\nHost: {host}\r\n".encode(), b"X-Slow: a\r\n" * 200


def slow_body(host: str, length: int = 4000) -> tuple[bytes, bytes]:
    """A complete head announcing a body, then the body a byte at a time."""
    head = (
        f"POST /api/v1/auth/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()
    return head, b'{"phone": "' + b"1" * (length - 13) + b'"}'
