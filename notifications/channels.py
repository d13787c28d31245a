"""Outgoing channels beyond the in-app inbox. SMS and WeChat gateways are outside parties: they plug in here.

The default channel only logs, so a deployment without a gateway still works and shows what would be sent.
SMS has a channel of its own (`sms_channel()`): it is addressed to a phone, not a user, and each text carries a
message id the gateway deduplicates on. With `LINLI_SMS_ENDPOINT_URL` set it is `notifications.sms`'s HTTP
gateway, otherwise `LoggingSmsChannel`.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

import structlog

from linli.settings import get_settings
from notifications.sms import HttpSmsChannel

log = structlog.get_logger("linli.notify")


class Channel(Protocol):
    async def deliver(self, *, user_id: UUID, title: str, body: str) -> None: ...


class LoggingChannel:
    async def deliver(self, *, user_id: UUID, title: str, body: str) -> None:
        log.info("notification_delivered", channel="log", user_id=str(user_id), title=title)


_channels: list[Channel] = [LoggingChannel()]


def channels() -> list[Channel]:
    return list(_channels)


def use_channels(new: list[Channel]) -> None:
    _channels[:] = new


class SmsChannel(Protocol):
    async def send_sms(self, *, message_id: str, phone: str, text: str) -> None:
        """Hand one text to the gateway; the same `message_id` twice must reach the phone once. Raises
        `notifications.sms.SmsDeliveryError` when the gateway did not take it (the caller retries)."""
        ...


class LoggingSmsChannel:
    async def send_sms(self, *, message_id: str, phone: str, text: str) -> None:
        # The phone is personal data: the log shows which message, not to whom.
        log.info("sms_delivered", channel="log", message_id=message_id, length=len(text))


_sms: list[SmsChannel] = []


def sms_channel() -> SmsChannel:
    """The SMS channel of this process, built from the settings on first use."""
    if not _sms:
        settings = get_settings()
        if settings.sms_endpoint_url:
            _sms.append(
                HttpSmsChannel(
                    endpoint_url=settings.sms_endpoint_url,
                    api_key=settings.sms_api_key,
                    api_secret=settings.sms_api_secret.get_secret_value(),
                    sender_id=settings.sms_sender_id,
                    timeout_seconds=settings.sms_timeout_seconds,
                )
            )
        else:
            _sms.append(LoggingSmsChannel())
    return _sms[0]


def use_sms_channel(channel: SmsChannel | None) -> None:
    """Replace the SMS channel (None: build it from the settings again on next use)."""
    _sms[:] = [] if channel is None else [channel]
