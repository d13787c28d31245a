"""HTTP: partners, their members and revenue share, offerings and the public catalog."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from linli import db
from linli.auth.security import Caller, CurrentUser, optional_user
from linli.errors import BadInput
from linli.idempotency import IdempotencyKey, create_once
from partners import catalog, offerings, services
from partners.schemas import (
    CatalogPage,
    Category,
    MemberIn,
    MemberOut,
    OfferingIn,
    OfferingOut,
    OfferingPatch,
    PartnerIn,
    PartnerKind,
    PartnerOut,
    PartnerPage,
    PartnerStatus,
    ReasonIn,
    RevenueShareIn,
    RevenueShareOut,
)


class PartnerController(Controller):
    path = "/partners"
    tags = ["partners"]

    @post("/", status_code=201)
    async def apply(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        data: JSONBody[PartnerIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PartnerOut]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: services.create(actor=user, partner_in=data),
        )

    @get("/", public=True)
    async def list_partners(
        self,
        request: Request[Any, Any, Any],
        community_id: FromQuery[UUID | None] = None,
        status: FromQuery[PartnerStatus | None] = None,
        kind: FromQuery[PartnerKind | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0,
    ) -> PartnerPage:
        actor = await optional_user(request)
        return await services.get_all(
            actor=actor, community_id=community_id, status=status, kind=kind, limit=limit, offset=offset
        )

    @get("/{partner_id:uuid}", public=True)
    async def retrieve(self, request: Request[Any, Any, Any], partner_id: FromPath[UUID]) -> PartnerOut:
        return await services.get_visible(actor=await optional_user(request), partner_id=partner_id)

    async def _transition(self, user: CurrentUser, partner_id: UUID, action: str, data: ReasonIn | None) -> PartnerOut:
        async with db.unit_of_work():
            return await services.transition(
                actor=user, partner_id=partner_id, action=action, reason=data.reason if data else ""
            )

    @post("/{partner_id:uuid}/approve", status_code=200)
    async def approve(
        self, user: Caller, partner_id: FromPath[UUID], data: JSONBody[ReasonIn | None] = None
    ) -> PartnerOut:
        return await self._transition(user, partner_id, "approve", data)

    @post("/{partner_id:uuid}/reject", status_code=200)
    async def reject(
        self, user: Caller, partner_id: FromPath[UUID], data: JSONBody[ReasonIn | None] = None
    ) -> PartnerOut:
        return await self._transition(user, partner_id, "reject", data)

    @post("/{partner_id:uuid}/suspend", status_code=200)
    async def suspend(
        self, user: Caller, partner_id: FromPath[UUID], data: JSONBody[ReasonIn | None] = None
    ) -> PartnerOut:
        return await self._transition(user, partner_id, "suspend", data)

    @post("/{partner_id:uuid}/reinstate", status_code=200)
    async def reinstate(
        self, user: Caller, partner_id: FromPath[UUID], data: JSONBody[ReasonIn | None] = None
    ) -> PartnerOut:
        return await self._transition(user, partner_id, "reinstate", data)

    @post("/{partner_id:uuid}/members", status_code=201)
    async def add_member(self, user: Caller, partner_id: FromPath[UUID], data: JSONBody[MemberIn]) -> MemberOut:
        async with db.unit_of_work():
            return await services.add_member(actor=user, partner_id=partner_id, member_in=data)

    @get("/{partner_id:uuid}/members")
    async def members(self, user: Caller, partner_id: FromPath[UUID]) -> list[MemberOut]:
        return await services.get_members(actor=user, partner_id=partner_id)

    @put("/{partner_id:uuid}/revenue-share", status_code=200)
    async def set_revenue_share(
        self, user: Caller, partner_id: FromPath[UUID], data: JSONBody[RevenueShareIn]
    ) -> RevenueShareOut:
        async with db.unit_of_work():
            return await services.set_revenue_share(actor=user, partner_id=partner_id, share_in=data)

    @get("/{partner_id:uuid}/revenue-share")
    async def revenue_share_history(self, user: Caller, partner_id: FromPath[UUID]) -> list[RevenueShareOut]:
        return await services.get_revenue_share_history(actor=user, partner_id=partner_id)

    @post("/{partner_id:uuid}/offerings", status_code=201)
    async def create_offering(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        partner_id: FromPath[UUID],
        data: JSONBody[OfferingIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OfferingOut]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: offerings.create(actor=user, partner_id=partner_id, offering_in=data),
        )

    @get("/{partner_id:uuid}/offerings")
    async def partner_offerings(self, user: Caller, partner_id: FromPath[UUID]) -> list[OfferingOut]:
        """Every offering of the partner, drafts included, for its staff."""
        return await offerings.get_all_of_partner(actor=user, partner_id=partner_id)


class OfferingController(Controller):
    path = "/offerings"
    tags = ["offerings"]

    @get("/", public=True)
    async def search(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str | None, QueryParameter(max_length=50)] = None,
        category: FromQuery[Category | None] = None,
        community_id: FromQuery[UUID | None] = None,
        partner_id: FromQuery[UUID | None] = None,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        available: FromQuery[bool] = False,
        subsidised_for_me: FromQuery[bool] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000)] = 0,
    ) -> CatalogPage:
        """Published offerings of approved partners; `q` matches Chinese text, pinyin and initials."""
        subsidised_for = None
        if subsidised_for_me:
            actor = await optional_user(request)
            if actor is None:
                raise NotAuthorizedException("No JWT token: subsidised_for_me needs a signed-in caller")
            subsidised_for = actor.id
        if date_from and date_to and date_to < date_from:
            raise BadInput("date_to is before date_from")
        query = catalog.CatalogQuery(
            q=q,
            category=category,
            community_id=community_id,
            partner_id=partner_id,
            date_from=date_from,
            date_to=date_to,
            available=available,
            subsidised_for=subsidised_for,
            limit=limit,
            offset=offset,
        )
        return await catalog.search(query=query)

    @get("/{offering_id:uuid}", public=True)
    async def retrieve(self, request: Request[Any, Any, Any], offering_id: FromPath[UUID]) -> OfferingOut:
        return await offerings.get_visible(actor=await optional_user(request), offering_id=offering_id)

    @patch("/{offering_id:uuid}")
    async def edit(self, user: Caller, offering_id: FromPath[UUID], data: JSONBody[OfferingPatch]) -> OfferingOut:
        async with db.unit_of_work():
            return await offerings.update(actor=user, offering_id=offering_id, patch=data)

    @post("/{offering_id:uuid}/publish", status_code=200)
    async def publish(self, user: Caller, offering_id: FromPath[UUID]) -> OfferingOut:
        async with db.unit_of_work():
            return await offerings.transition(actor=user, offering_id=offering_id, action="publish")

    @post("/{offering_id:uuid}/pause", status_code=200)
    async def pause(self, user: Caller, offering_id: FromPath[UUID]) -> OfferingOut:
        async with db.unit_of_work():
            return await offerings.transition(actor=user, offering_id=offering_id, action="pause")

    @post("/{offering_id:uuid}/archive", status_code=200)
    async def archive(self, user: Caller, offering_id: FromPath[UUID]) -> OfferingOut:
        async with db.unit_of_work():
            return await offerings.transition(actor=user, offering_id=offering_id, action="archive")
