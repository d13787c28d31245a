"""我的消息: what Linli told a person (bookings confirmed, places from the waiting list, tasks offered, orders),
newest first, with what is unread marked and a count in the menu."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from console import web
from linli import db
from notifications import services as notifications

web.notices(message_read="已标为已读。", messages_read="全部标为已读。")

# Where a message leads, by what it is about (its `data`): the page where the person can act on it.
_LEADS_TO = (("booking_id", "/bookings"), ("assignment_id", "/me/volunteer"), ("order_id", "/bookings"))


def _link(data: dict[str, Any]) -> str | None:
    return next((url for key, url in _LEADS_TO if key in data), None)


class MessagePages(Controller):
    path = "/messages"

    @get("/")
    async def messages(self, request: Request[Any, Any, Any], viewer: web.Viewer) -> Template:
        page = await notifications.get_all(user_id=viewer.id, limit=100)
        items = [(n, _link(n.data)) for n in page.items]
        return web.page(request, "mine/messages.html", viewer=viewer, items=items, unread=page.unread)

    @get("/unread")
    async def unread(self, request: Request[Any, Any, Any], viewer: web.Viewer) -> Template:
        """The menu's count, fetched by HTMX after the page shows (no page waits for it)."""
        count = await notifications.unread_count(user_id=viewer.id)
        return web.page(request, "mine/_unread.html", viewer=viewer, count=count)

    @post("/{notification_id:uuid}/read")
    async def read(self, viewer: web.Viewer, notification_id: FromPath[UUID]) -> Response[Any]:
        async with db.unit_of_work():
            await notifications.mark_read(user_id=viewer.id, notification_id=notification_id)
        return web.redirect_with("/messages", "message_read")

    @post("/read-all")
    async def read_all(self, viewer: web.Viewer) -> Response[Any]:
        async with db.unit_of_work():
            await notifications.mark_all_read(user_id=viewer.id)
        return web.redirect_with("/messages", "messages_read")
