"""The SMS gateway over HTTP, and the HMAC signature both directions use.

Outgoing: `HttpSmsChannel.send_sms` POSTs one JSON message to `LINLI_SMS_ENDPOINT_URL`

    {"out_id": <our message id>, "phone": "139…", "sender_id": "邻里", "content": "…"}

with `X-Api-Key`, `X-Timestamp` (unix seconds) and `X-Signature` (hex HMAC-SHA256 of `"<timestamp>." + body`
under `LINLI_SMS_API_SECRET`). `out_id` is the gateway's idempotency key: a retry of the same message (our
actor redelivered, or a timeout after the gateway had already accepted it) is deduplicated by the gateway, so
the resident gets one text. A non-2xx answer, a timeout or a network error raises `SmsDeliveryError`, which the
Dramatiq actor lets propagate so the message is retried with backoff.

Inbound replies are signed the same way with `LINLI_SMS_WEBHOOK_SECRET` (see `marketplace.sms_webhook`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import structlog

log = structlog.get_logger("linli.sms")

# A signed request older (or further in the future) than this is refused: a captured request cannot be replayed
# later, and a replay within the window is caught by the message id.
SIGNATURE_MAX_AGE_SECONDS = 300


class SmsDeliveryError(Exception):
    """The gateway did not accept the message (non-2xx, timeout, network): retry it later."""


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `"<timestamp>." + body` under `secret`."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_valid(
    *, secret: str, timestamp: str | None, signed: str | None, body: bytes, now: float | None = None
) -> bool | None:
    """True when `signed` is the signature of `body` at `timestamp`; False when it is not (or is missing);
    None when it matches but the timestamp is outside `SIGNATURE_MAX_AGE_SECONDS`. Compared in constant time."""
    if not secret or not timestamp or not signed:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected, signed.strip().removeprefix("sha256=").lower()):
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent_at) > SIGNATURE_MAX_AGE_SECONDS:
        return None
    return True


class HttpSmsChannel:
    """A real SMS gateway reached over HTTP (see the module docstring for the wire format)."""

    def __init__(
        self, *, endpoint_url: str, api_key: str, api_secret: str, sender_id: str, timeout_seconds: float
    ) -> None:
        self.endpoint_url = endpoint_url
        self._api_key = api_key
        self._api_secret = api_secret
        self.sender_id = sender_id
        self._timeout = httpx.Timeout(timeout_seconds)

    async def send_sms(self, *, message_id: str, phone: str, text: str) -> None:
        body = json.dumps(
            {"out_id": message_id, "phone": phone, "sender_id": self.sender_id, "content": text},
            ensure_ascii=False,
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Api-Key": self._api_key,
            "X-Timestamp": timestamp,
            "X-Signature": signature(secret=self._api_secret, timestamp=timestamp, body=body),
            "Idempotency-Key": message_id,
        }
        # One client per message: SMS are few, and a client bound to no event loop is safe on Dramatiq's.
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self.endpoint_url, content=body, headers=headers)
        except httpx.HTTPError as exc:  # timeouts, refused connections, broken responses
            raise SmsDeliveryError(f"SMS gateway unreachable: {type(exc).__name__}") from exc
        if not response.is_success:
            raise SmsDeliveryError(f"SMS gateway answered {response.status_code}")
        log.info("sms_sent", channel="http", message_id=message_id, status=response.status_code)
