from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from linli.auth.security import Caller
from notifications import services
from notifications.schemas import NotificationOut, NotificationPage


class NotificationController(Controller):
    path = "/me/notifications"
    tags = ["notifications"]

    @get("/")
    async def list_mine(
        self,
        user: Caller,
        unread_only: FromQuery[bool] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0,
    ) -> NotificationPage:
        return await services.get_all(user_id=user.id, unread_only=unread_only, limit=limit, offset=offset)

    @post("/{notification_id:uuid}/read", status_code=200)
    async def mark_read(self, user: Caller, notification_id: FromPath[UUID]) -> NotificationOut:
        return await services.mark_read(user_id=user.id, notification_id=notification_id)
