"""`POST /api/v1/sms/inbound`: the SMS gateway reports a resident's reply (marketplace.services.sms_replies).

No bearer token (the gateway is no user; `linli.auth.security.PUBLIC_PATH` lists the path): the call is
authenticated by `X-Signature`, the hex HMAC-SHA256 of `"<X-Timestamp>." + raw body` under
`LINLI_SMS_WEBHOOK_SECRET` (compared in constant time; `notifications.sms.signature`). A missing or wrong
signature is 401 `sms_signature_invalid`, a timestamp more than 5 minutes off 401 `sms_signature_expired`, and
neither changes anything. A well-signed reply is always 200 `{outcome, prompt_id}`, even when it matched
nothing (`replayed`, `no_open_prompt`, `ambiguous`, `not_understood`, or the refusing service's error code):
the gateway has delivered it, and an error status would only make it retry forever.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, post
from pydantic import BaseModel, Field, ValidationError

from linli import db
from linli.errors import BadInput, DomainError, register_code
from linli.settings import get_settings
from marketplace.services import sms_replies
from notifications.sms import signature_valid

SMS_SIGNATURE_INVALID = register_code(
    "sms_signature_invalid", 401, "短信回调签名无效", "The SMS callback's signature is missing or invalid"
)
SMS_SIGNATURE_EXPIRED = register_code(
    "sms_signature_expired", 401, "短信回调已过期", "The SMS callback's timestamp is too old or in the future"
)


class SmsInboundIn(BaseModel):
    """One reply as the gateway reports it; `message_id` is the gateway's own, unique per inbound text."""

    message_id: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=5, max_length=20)
    text: str = Field(max_length=500)


class SmsInboundOut(BaseModel):
    outcome: str
    prompt_id: UUID | None = None


class SmsWebhookController(Controller):
    path = "/sms"
    tags = ["sms"]

    @post("/inbound", status_code=200)
    async def inbound(self, request: Request[Any, Any, Any]) -> SmsInboundOut:
        """The gateway reports a resident's Y/N reply; signed with the shared secret (see the module docstring)."""
        body = await request.body()
        verdict = signature_valid(
            secret=get_settings().sms_webhook_secret.get_secret_value(),
            timestamp=request.headers.get("x-timestamp"),
            signed=request.headers.get("x-signature"),
            body=body,
        )
        if verdict is None:
            raise DomainError("the timestamp is more than 5 minutes off", code=SMS_SIGNATURE_EXPIRED)
        if not verdict:
            raise DomainError(code=SMS_SIGNATURE_INVALID)
        try:
            data = SmsInboundIn.model_validate_json(body)
        except ValidationError as exc:
            raise BadInput(f"invalid SMS callback: {exc.error_count()} error(s)") from exc
        async with db.unit_of_work():
            handled = await sms_replies.handle(
                reply=sms_replies.Reply(message_id=data.message_id, phone=data.phone, text=data.text)
            )
        return SmsInboundOut(outcome=handled.outcome, prompt_id=handled.prompt_id)
