from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from community import services
from community.priority import PRIORITY_GROUPS
from community.schemas import (
    CommunityIn,
    CommunityOut,
    GridIn,
    GridOut,
    MemberIn,
    MemberOut,
    MeOut,
    PriorityGroupOut,
    PriorityGroupsIn,
    ResidentGridIn,
    ResidentOut,
)
from linli import db
from linli.auth.security import Caller

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=100_000)]


class MeController(Controller):
    path = "/me"
    tags = ["auth"]

    @get("/")
    async def me(self, user: Caller) -> MeOut:
        return await services.me(user=user)


class CommunityController(Controller):
    path = "/communities"
    tags = ["communities"]

    @post("/", status_code=201)
    async def create(self, user: Caller, data: JSONBody[CommunityIn]) -> CommunityOut:
        async with db.unit_of_work():
            return await services.create(actor=user, community_in=data)

    @get("/", public=True)
    async def list_all(self, limit: Limit = 100, offset: Offset = 0) -> list[CommunityOut]:
        return await services.get_all(limit=limit, offset=offset)

    @get("/{community_id:uuid}", public=True)
    async def retrieve(self, community_id: FromPath[UUID]) -> CommunityOut:
        return await services.get(community_id=community_id)

    @post("/{community_id:uuid}/members", status_code=201)
    async def grant(self, user: Caller, community_id: FromPath[UUID], data: JSONBody[MemberIn]) -> MemberOut:
        async with db.unit_of_work():
            return await services.grant_role(
                actor=user, community_id=community_id, user_id=data.user_id, role=data.role
            )

    @post("/{community_id:uuid}/members/revoke", status_code=200)
    async def revoke(self, user: Caller, community_id: FromPath[UUID], data: JSONBody[MemberIn]) -> MemberOut:
        async with db.unit_of_work():
            return await services.revoke_role(
                actor=user, community_id=community_id, user_id=data.user_id, role=data.role
            )

    @get("/{community_id:uuid}/members")
    async def members(
        self,
        user: Caller,
        community_id: FromPath[UUID],
        role: Annotated[str | None, QueryParameter(pattern="^(resident|staff|admin)$")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[MemberOut]:
        return await services.get_members(actor=user, community_id=community_id, role=role, limit=limit, offset=offset)

    @put("/{community_id:uuid}/residents/{user_id:uuid}/priority-groups")
    async def set_priority_groups(
        self,
        user: Caller,
        community_id: FromPath[UUID],
        user_id: FromPath[UUID],
        data: JSONBody[PriorityGroupsIn],
    ) -> ResidentOut:
        async with db.unit_of_work():
            return await services.set_priority_groups(
                actor=user, community_id=community_id, user_id=user_id, groups=data.groups
            )

    @put("/{community_id:uuid}/residents/{user_id:uuid}/grid")
    async def set_grid(
        self,
        user: Caller,
        community_id: FromPath[UUID],
        user_id: FromPath[UUID],
        data: JSONBody[ResidentGridIn],
    ) -> ResidentOut:
        async with db.unit_of_work():
            return await services.set_resident_grid(
                actor=user, community_id=community_id, user_id=user_id, grid_id=data.grid_id
            )

    @get("/{community_id:uuid}/residents/{user_id:uuid}")
    async def resident(self, user: Caller, community_id: FromPath[UUID], user_id: FromPath[UUID]) -> ResidentOut:
        return await services.get_resident(actor=user, community_id=community_id, user_id=user_id)

    @post("/{community_id:uuid}/grids", status_code=201)
    async def create_grid(self, user: Caller, community_id: FromPath[UUID], data: JSONBody[GridIn]) -> GridOut:
        async with db.unit_of_work():
            return await services.create_grid(actor=user, community_id=community_id, grid_in=data)

    @get("/{community_id:uuid}/grids")
    async def grids(self, user: Caller, community_id: FromPath[UUID]) -> list[GridOut]:
        return await services.get_grids(actor=user, community_id=community_id)


class PriorityGroupController(Controller):
    path = "/priority-groups"
    tags = ["communities"]

    @get("/", public=True)
    async def list_all(self) -> list[PriorityGroupOut]:
        return [PriorityGroupOut(code=c, name_zh=zh, name_en=en) for c, (zh, en) in PRIORITY_GROUPS.items()]
