"""The community's people and its 百姓微实事: residents' priority groups and members' roles for staff, and the
participatory budget where residents propose and vote and staff run the round."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from community import access
from community import services as community
from community.priority import PRIORITY_GROUPS
from community.schemas import MemberIn, PriorityGroupsIn
from console import web
from linli import db
from linli.errors import DomainError
from welfare.schemas import BudgetProposalIn, BudgetRoundIn, VoteIn
from welfare.services import budgeting

web.notices(
    groups_saved="重点人群已更新,补贴价格随之变化。",
    role_changed="身份已更新。",
    round_created="新一轮微实事已开始征集。",
    proposed="您的提议已提交,谢谢参与!",
    voted="投票成功,每人每轮一票。",
    round_changed="这一轮的状态已更新。",
)

ROLE_WORDS = {"resident": "居民", "staff": "工作人员", "admin": "管理员"}
ROUND_WORDS = {"proposing": "征集提议", "voting": "投票中", "closed": "已结束"}
ROUND_ACTIONS = {"voting": budgeting.open_voting, "close": budgeting.close}
PROPOSAL_ACTIONS = {"shortlist": budgeting.shortlist, "reject": budgeting.reject}


class CommunityPages(Controller):
    path = "/"

    async def _people_page(
        self,
        request: Request[Any, Any, Any],
        viewer: Any,
        community_id: UUID,
        *,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        members = await community.get_members(actor=viewer, community_id=community_id, role=None, limit=500, offset=0)
        groups = {
            m.user_id: await community.priority_groups_of(community_id=community_id, user_id=m.user_id)
            for m in members
            if "resident" in m.roles
        }
        return web.page(
            request,
            "desk/people.html",
            viewer=viewer,
            community=await community.get(community_id=community_id),
            members=members,
            groups=groups,
            group_words={code: zh for code, (zh, _en) in PRIORITY_GROUPS.items()},
            role_words=ROLE_WORDS,
            is_admin=await access.has_role(viewer, community_id, "admin"),
            errors=errors or {},
            status_code=status_code,
        )

    @get("/staff/{community_id:uuid}/people")
    async def people(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Template:
        """Members with their roles, and each resident's priority groups (which decide subsidised prices)."""
        return await self._people_page(request, viewer, community_id)

    @post("/staff/{community_id:uuid}/people/{user_id:uuid}/groups")
    async def set_groups(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        community_id: FromPath[UUID],
        user_id: FromPath[UUID],
    ) -> Response[Any]:
        await access.require_role(viewer, community_id, "staff")  # outsiders learn nothing from validation
        data = await web.form_of(request)
        chosen = data.get("groups", [])
        try:
            groups_in = web.parse(
                request, PriorityGroupsIn, {"groups": chosen if isinstance(chosen, list) else [chosen]}
            )
            async with db.unit_of_work():
                await community.set_priority_groups(
                    actor=viewer, community_id=community_id, user_id=user_id, groups=groups_in.groups
                )
        except web.FormErrors as bad:
            errors = {str(user_id): next(iter(bad.errors.values()))}
            return await self._people_page(request, viewer, community_id, errors=errors, status_code=422)
        except DomainError as exc:
            errors = {str(user_id): web.domain_errors(request, exc)["__all__"]}
            return await self._people_page(request, viewer, community_id, errors=errors, status_code=exc.status_code)
        return web.redirect_with(f"/staff/{community_id}/people", "groups_saved")

    @post("/staff/{community_id:uuid}/people/{user_id:uuid}/{change:str}")
    async def change_role(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        community_id: FromPath[UUID],
        user_id: FromPath[UUID],
        change: FromPath[str],
    ) -> Response[Any]:
        run = {"grant": community.grant_role, "revoke": community.revoke_role}.get(change)
        if run is None:
            raise DomainError("no such change", code="not_found")
        data = await web.form_of(request)
        try:
            member_in = web.parse(request, MemberIn, {"user_id": str(user_id), "role": data.get("role", "")})
            async with db.unit_of_work():
                await run(actor=viewer, community_id=community_id, user_id=member_in.user_id, role=member_in.role)
        except web.FormErrors as bad:
            errors = {str(user_id): next(iter(bad.errors.values()))}
        except DomainError as exc:
            errors = {str(user_id): web.domain_errors(request, exc)["__all__"]}
        else:
            return web.redirect_with(f"/staff/{community_id}/people", "role_changed")
        return await self._people_page(request, viewer, community_id, errors=errors, status_code=409)

    # --- 百姓微实事 ------------------------------------------------------------------------------------------

    async def _budget_page(
        self,
        request: Request[Any, Any, Any],
        viewer: Any,
        community_id: UUID,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Template:
        rounds = await budgeting.get_all(actor=viewer, community_id=community_id)
        return web.page(
            request,
            "desk/budget.html",
            viewer=viewer,
            community=await community.get(community_id=community_id),
            rounds=rounds,
            words=ROUND_WORDS,
            is_staff=await access.has_role(viewer, community_id, "staff"),
            is_resident=await access.has_role(viewer, community_id, "resident"),
            errors=errors or {},
            values=values or {},
            status_code=status_code,
        )

    @get("/budget/{community_id:uuid}")
    async def budget(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Template:
        """Rounds of the participatory budget: residents propose and vote, staff shortlist, open voting, close."""
        return await self._budget_page(request, viewer, community_id)

    @post("/budget/{community_id:uuid}/rounds")
    async def create_round(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Response[Any]:
        data = await web.form_of(request)
        await access.require_role(viewer, community_id, "staff")
        budget = str(data.get("budget_yuan", "")).strip()
        return await self._budget_step(
            request,
            viewer,
            community_id,
            data,
            lambda: budgeting.create_round(
                actor=viewer,
                community_id=community_id,
                round_in=web.parse(
                    request,
                    BudgetRoundIn,
                    {"title": data.get("title", ""), **web.money("budget_fen", budget)},
                ),
            ),
            "round_created",
            {"budget_fen": "budget_yuan"},
        )

    @post("/budget/{community_id:uuid}/rounds/{round_id:uuid}/{step:str}")
    async def round_step(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        community_id: FromPath[UUID],
        round_id: FromPath[UUID],
        step: FromPath[str],
    ) -> Response[Any]:
        data = await web.form_of(request)
        the_round = await budgeting.get(actor=viewer, round_id=round_id)
        if the_round.community_id != community_id:
            raise DomainError("no such round here", code="not_found")
        if step == "propose":
            requested = str(data.get("requested_yuan", "")).strip()

            def propose() -> Any:
                proposal_in = web.parse(
                    request,
                    BudgetProposalIn,
                    {
                        "title": data.get("title", ""),
                        "description": data.get("description", ""),
                        **web.money("requested_fen", requested),
                    },
                )
                return budgeting.propose(actor=viewer, round_id=round_id, proposal_in=proposal_in)

            return await self._budget_step(
                request, viewer, community_id, data, propose, "proposed", {"requested_fen": "requested_yuan"}
            )
        if step == "vote":
            return await self._budget_step(
                request,
                viewer,
                community_id,
                data,
                lambda: budgeting.vote(
                    actor=viewer,
                    round_id=round_id,
                    vote_in=web.parse(request, VoteIn, {"proposal_id": data.get("proposal_id", "")}),
                ),
                "voted",
            )
        if step in PROPOSAL_ACTIONS:
            proposal_id = str(data.get("proposal_id", ""))
            if proposal_id not in {str(p.id) for p in the_round.proposals}:
                raise DomainError("no such proposal here", code="not_found")
            decide = PROPOSAL_ACTIONS[step]
            return await self._budget_step(
                request,
                viewer,
                community_id,
                data,
                lambda: decide(actor=viewer, proposal_id=UUID(proposal_id)),
                "round_changed",
            )
        move = ROUND_ACTIONS.get(step)
        if move is None:
            raise DomainError("no such step", code="not_found")
        return await self._budget_step(
            request, viewer, community_id, data, lambda: move(actor=viewer, round_id=round_id), "round_changed"
        )

    async def _budget_step(
        self,
        request: Request[Any, Any, Any],
        viewer: Any,
        community_id: UUID,
        data: dict[str, Any],
        run: Any,
        notice: str,
        fields: dict[str, str] | None = None,
    ) -> Response[Any]:
        try:
            async with db.unit_of_work():
                await run()
        except web.FormErrors as bad:
            errors = {(fields or {}).get(k, k): v for k, v in bad.errors.items()}
        except DomainError as exc:
            errors = web.domain_errors(request, exc)
        else:
            return web.redirect_with(f"/budget/{community_id}", notice)
        return await self._budget_page(request, viewer, community_id, errors=errors, values=data, status_code=400)
