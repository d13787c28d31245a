from uuid import UUID

from litestar import Controller, get, post
from litestar.params import Parameter

from linli.auth.security import CurrentUser
from notifications import services
from notifications.schemas import NotificationOut, NotificationPage


class NotificationController(Controller):
    path = "/me/notifications"
    tags = ["notifications"]

    @get("/")
    async def list_mine(
        self,
        user: CurrentUser,
        unread_only: bool = False,
        limit: int = Parameter(default=50, ge=1, le=200),
        offset: int = Parameter(default=0, ge=0, le=100_000),
    ) -> NotificationPage:
        return await services.get_all(user_id=user.id, unread_only=unread_only, limit=limit, offset=offset)

    @post("/{notification_id:uuid}/read", status_code=200)
    async def mark_read(self, user: CurrentUser, notification_id: UUID) -> NotificationOut:
        return await services.mark_read(user_id=user.id, notification_id=notification_id)
