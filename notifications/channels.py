"""Outgoing channels beyond the in-app inbox. SMS and WeChat gateways are outside parties: they plug in here.

The default channel only logs, so a deployment without a gateway still works and shows what would be sent.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

import structlog

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
