"""The community desk's people: partners to approve or suspend, relief under the two-person rule, volunteer
tasks with one-click matching, and hours waiting for approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from community import access
from community import services as community
from console import web
from linli import db
from linli.errors import DomainError
from partners import services as partners
from partners.schemas import ReasonIn
from volunteers.schemas import ApproveIn, TaskIn
from volunteers.services import hours, offers, tasks
from welfare.schemas import DecisionIn, DisbursementIn
from welfare.services import fund

web.notices(
    partner_changed="商家状态已更新。",
    relief_requested="救助申请已提交,需另一位管理员批准。",
    relief_approved="救助已批准,款项已拨付。",
    relief_rejected="救助申请已驳回。",
    task_created="任务已发布。",
    matched="已向合适的志愿者发出邀请。",
    hours_approved="服务时长已确认。",
)

PARTNER_ACTIONS = ("approve", "reject", "suspend", "reinstate")
PARTNER_WORDS = {"pending": "待审核", "approved": "已通过", "rejected": "未通过", "suspended": "已暂停"}
RELIEF_WORDS = {"requested": "待批准", "approved": "已拨付", "rejected": "已驳回"}


class StaffPages(Controller):
    path = "/staff/{community_id:uuid}"

    # --- partners ------------------------------------------------------------------------------------------

    async def _partners_page(
        self, request: Request[Any, Any, Any], viewer: Any, community_id: UUID, errors: dict[str, str] | None = None
    ) -> Template:
        await access.require_role(viewer, community_id, "staff")
        listed = await partners.get_all(actor=viewer, community_id=community_id, status=None, limit=100)
        return web.page(
            request,
            "desk/partners.html",
            viewer=viewer,
            community=await community.get(community_id=community_id),
            partners=listed.items,
            words=PARTNER_WORDS,
            errors=errors or {},
            status_code=409 if errors else 200,
        )

    @get("/partners")
    async def partner_list(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Template:
        return await self._partners_page(request, viewer, community_id)

    @post("/partners/{partner_id:uuid}/{action:str}")
    async def partner_action(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        community_id: FromPath[UUID],
        partner_id: FromPath[UUID],
        action: FromPath[str],
    ) -> Response[Any]:
        await access.require_role(viewer, community_id, "staff")
        if action not in PARTNER_ACTIONS or (await partners.get(partner_id=partner_id)).community_id != community_id:
            raise DomainError("no such partner here", code="not_found")
        try:
            reason = web.parse(request, ReasonIn, await web.form_of(request)).reason
            async with db.unit_of_work():
                await partners.transition(actor=viewer, partner_id=partner_id, action=action, reason=reason)
        except web.FormErrors as bad:
            return await self._partners_page(request, viewer, community_id, {str(partner_id): bad.errors["reason"]})
        except DomainError as exc:
            errors = {str(partner_id): web.domain_errors(request, exc)["__all__"]}
            return await self._partners_page(request, viewer, community_id, errors)
        return web.redirect_with(f"/staff/{community_id}/partners", "partner_changed")

    # --- relief (two-person rule) --------------------------------------------------------------------------

    async def _relief_page(
        self,
        request: Request[Any, Any, Any],
        viewer: Any,
        community_id: UUID,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Template:
        listed = await fund.get_disbursements(actor=viewer, community_id=community_id)
        residents = await community.get_members(
            actor=viewer, community_id=community_id, role="resident", limit=500, offset=0
        )
        names = {m.user_id: m.name for m in residents}
        return web.page(
            request,
            "desk/relief.html",
            viewer=viewer,
            community=await community.get(community_id=community_id),
            relief=[d for d in listed if d.recipient_user_id is not None],
            names=names,
            resident_options=[(str(m.user_id), m.name) for m in residents],
            words=RELIEF_WORDS,
            errors=errors or {},
            values=values or {},
            idempotency_key=uuid4().hex,
            status_code=status_code,
        )

    @get("/relief")
    async def relief(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Template:
        """Relief asked for by one staff member, paid only when a different admin approves it."""
        return await self._relief_page(request, viewer, community_id)

    @post("/relief")
    async def request_relief(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Response[Any]:
        data = await web.form_of(request)
        key = web.form_key(data)
        await access.require_role(viewer, community_id, "staff")
        try:
            yuan = str(data.get("amount_yuan", "")).strip()
            amount = web.money("amount_fen", yuan)
            relief_in = web.parse(request, DisbursementIn, {**data, **amount})
            await web.create_once(
                viewer=viewer,
                key=key,
                path=f"/staff/{community_id}/relief",
                model=relief_in,
                status_code=201,
                run=lambda: fund.request_disbursement(
                    actor=viewer, community_id=community_id, disbursement_in=relief_in
                ),
            )
        except web.FormErrors as bad:
            errors = {("amount_yuan" if k == "amount_fen" else k): v for k, v in bad.errors.items()}
        except DomainError as exc:
            errors = web.domain_errors(request, exc, {"recipient_not_resident": "recipient_user_id"})
        else:
            return web.redirect_with(f"/staff/{community_id}/relief", "relief_requested")
        return await self._relief_page(request, viewer, community_id, errors=errors, values=data, status_code=400)

    @post("/relief/{disbursement_id:uuid}/{decision:str}")
    async def decide_relief(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        community_id: FromPath[UUID],
        disbursement_id: FromPath[UUID],
        decision: FromPath[str],
    ) -> Response[Any]:
        run = {"approve": fund.approve_disbursement, "reject": fund.reject_disbursement}.get(decision)
        asked = await fund.get_disbursement(actor=viewer, disbursement_id=disbursement_id)
        if run is None or asked.community_id != community_id:
            raise DomainError("no such relief here", code="not_found")
        try:
            decision_in = web.parse(request, DecisionIn, await web.form_of(request))
            async with db.unit_of_work():
                await run(actor=viewer, disbursement_id=disbursement_id, decision_in=decision_in)
        except web.FormErrors as bad:
            errors = {str(disbursement_id): next(iter(bad.errors.values()))}
        except DomainError as exc:
            errors = {str(disbursement_id): web.domain_errors(request, exc)["__all__"]}
        else:
            return web.redirect_with(
                f"/staff/{community_id}/relief", "relief_approved" if decision == "approve" else "relief_rejected"
            )
        return await self._relief_page(request, viewer, community_id, errors=errors, status_code=409)

    # --- volunteer tasks and hours -------------------------------------------------------------------------

    async def _tasks_page(
        self,
        request: Request[Any, Any, Any],
        viewer: Any,
        community_id: UUID,
        *,
        offers_made: dict[str, int] | None = None,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Template:
        open_tasks = await tasks.get_open(actor=viewer, community_id=community_id)
        start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        return web.page(
            request,
            "desk/tasks.html",
            viewer=viewer,
            community=await community.get(community_id=community_id),
            tasks=open_tasks,
            pending=await hours.awaiting_approval(actor=viewer, community_id=community_id),
            assignments={t.id: await offers.task_assignments(actor=viewer, task_id=t.id) for t in open_tasks},
            offers_made=offers_made or {},
            errors=errors or {},
            values=values or {"starts_at": start.strftime("%Y-%m-%dT%H:%M"), "minutes": "120", "needed": "1"},
            idempotency_key=uuid4().hex,
            status_code=status_code,
        )

    @get("/tasks")
    async def task_list(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Template:
        """Open tasks with their offers and answers, a form for a new one, and hours waiting for approval."""
        return await self._tasks_page(request, viewer, community_id)

    @post("/tasks")
    async def create_task(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Response[Any]:
        data = await web.form_of(request)
        key = web.form_key(data)
        await access.require_role(viewer, community_id, "staff")
        try:
            tz = await community.timezone_of(community_id=community_id)
            starts_at = _local_datetime(str(data.get("starts_at", "")), tz)
            minutes = int(str(data.get("minutes") or "0")) if str(data.get("minutes") or "0").isdigit() else 0
            task_in = web.parse(
                request,
                TaskIn,
                {
                    "community_id": str(community_id),
                    "title": data.get("title", ""),
                    "description": data.get("description", ""),
                    "location": data.get("location", ""),
                    "volunteers_needed": data.get("needed") or None,
                    "starts_at": starts_at,
                    "ends_at": starts_at + timedelta(minutes=minutes)
                    if isinstance(starts_at, datetime) and minutes
                    else None,
                },
            )
            await web.create_once(
                viewer=viewer,
                key=key,
                path=f"/staff/{community_id}/tasks",
                model=task_in,
                status_code=201,
                run=lambda: tasks.create(actor=viewer, task_in=task_in),
            )
        except web.FormErrors as bad:
            errors = {{"volunteers_needed": "needed", "ends_at": "minutes"}.get(k, k): v for k, v in bad.errors.items()}
        except DomainError as exc:
            errors = web.domain_errors(request, exc)
        else:
            return web.redirect_with(f"/staff/{community_id}/tasks", "task_created")
        return await self._tasks_page(request, viewer, community_id, errors=errors, values=data, status_code=400)

    @post("/tasks/{task_id:uuid}/match")
    async def match(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID], task_id: FromPath[UUID]
    ) -> Response[Any]:
        """One click: the matcher offers the task to the best eligible volunteers (the API's own matching)."""
        task = await tasks.get(actor=viewer, task_id=task_id)
        if task.community_id != community_id:
            raise DomainError("no such task here", code="not_found")
        try:
            async with db.unit_of_work():
                made = await offers.match(actor=viewer, task_id=task_id)
        except DomainError as exc:
            return await self._tasks_page(
                request,
                viewer,
                community_id,
                errors={str(task_id): web.domain_errors(request, exc)["__all__"]},
                status_code=exc.status_code,
            )
        return await self._tasks_page(request, viewer, community_id, offers_made={str(task_id): len(made.offers)})

    @post("/hours/{assignment_id:uuid}/approve")
    async def approve_hours(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        community_id: FromPath[UUID],
        assignment_id: FromPath[UUID],
    ) -> Response[Any]:
        assignment = await offers.get_assignment(actor=viewer, assignment_id=assignment_id)
        task = await tasks.get(actor=viewer, task_id=assignment.task_id)
        if task.community_id != community_id:
            raise DomainError("no such assignment here", code="not_found")
        data = await web.form_of(request)
        try:
            approve_in = web.parse(request, ApproveIn, web.blank_to_none(data))
            async with db.unit_of_work():
                await hours.approve(actor=viewer, assignment_id=assignment_id, approve_in=approve_in)
        except web.FormErrors as bad:
            errors = {str(assignment_id): next(iter(bad.errors.values()))}
        except DomainError as exc:
            errors = {str(assignment_id): web.domain_errors(request, exc)["__all__"]}
        else:
            return web.redirect_with(f"/staff/{community_id}/tasks", "hours_approved")
        return await self._tasks_page(request, viewer, community_id, errors=errors, status_code=409)


def _local_datetime(text: str, tz: str) -> datetime | str:
    """An <input type=datetime-local> value in community time, aware; what cannot be read goes to the schema."""
    from zoneinfo import ZoneInfo

    try:
        return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))
    except ValueError:
        return text
