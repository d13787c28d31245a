"""HTTP: volunteers, skills, teams, tasks and help requests, offers and assignments, hours, time bank."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post, put
from litestar.params import Body, Parameter

from linli import db
from linli.auth.security import CurrentUser
from linli.idempotency import IDEMPOTENCY_KEY, create_once
from volunteers import timebank
from volunteers.schemas import (
    ApproveIn,
    AssignmentOut,
    BatchAssignOut,
    CheckInCodeOut,
    CodeIn,
    CorrectionIn,
    DonationIn,
    GiftIn,
    HelpRequestIn,
    HoursEntryOut,
    HoursOut,
    MatchOut,
    ServiceCertificateOut,
    SkillIn,
    SkillOut,
    TaskIn,
    TaskOut,
    TeamAcceptIn,
    TeamHoursOut,
    TeamIn,
    TeamMemberIn,
    TeamOfferIn,
    TeamOfferOut,
    TeamOut,
    TimeAccountOut,
    TimeTransferOut,
    VolunteerHoursRow,
    VolunteerIn,
    VolunteerOut,
    VolunteerSettingsIn,
    VolunteerSettingsOut,
    VolunteerUpdate,
)
from volunteers.services import batch, documents, hours, offers, profiles, tasks, teams
from volunteers.services.common import require_member


class VolunteerController(Controller):
    path = "/volunteers"
    tags = ["volunteers"]

    @post("/", status_code=201)
    async def register(
        self,
        request: Request[Any, Any, Any],
        user: CurrentUser,
        data: VolunteerIn = Body(),
        idempotency_key: str | None = IDEMPOTENCY_KEY,
    ) -> Response[VolunteerOut]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: profiles.create(actor=user, volunteer_in=data),
        )

    @get("/{volunteer_id:uuid}")
    async def profile(self, user: CurrentUser, volunteer_id: UUID) -> VolunteerOut:
        return await profiles.get(actor=user, volunteer_id=volunteer_id)

    @put("/{volunteer_id:uuid}")
    async def update(self, user: CurrentUser, volunteer_id: UUID, data: VolunteerUpdate = Body()) -> VolunteerOut:
        async with db.unit_of_work():
            return await profiles.update(actor=user, volunteer_id=volunteer_id, volunteer_in=data)

    @get("/{volunteer_id:uuid}/hours")
    async def approved_hours(self, user: CurrentUser, volunteer_id: UUID) -> HoursOut:
        return await hours.hours(actor=user, volunteer_id=volunteer_id)

    @get("/{volunteer_id:uuid}/hours/ledger")
    async def ledger(self, user: CurrentUser, volunteer_id: UUID) -> list[HoursEntryOut]:
        return await hours.ledger(actor=user, volunteer_id=volunteer_id)

    @get("/{volunteer_id:uuid}/calendar.ics")
    async def calendar(self, user: CurrentUser, volunteer_id: UUID) -> Response[bytes]:
        body = await documents.calendar(actor=user, volunteer_id=volunteer_id)
        return Response(body, media_type="text/calendar; charset=utf-8")

    @post("/{volunteer_id:uuid}/service-certificates", status_code=201)
    async def issue_certificate(self, user: CurrentUser, volunteer_id: UUID) -> ServiceCertificateOut:
        async with db.unit_of_work():
            return await documents.issue_certificate(actor=user, volunteer_id=volunteer_id)


class ServiceCertificateController(Controller):
    path = "/service-certificates"
    tags = ["volunteers"]

    @get("/{certificate_id:uuid}/pdf")
    async def pdf(self, user: CurrentUser, certificate_id: UUID) -> Response[bytes]:
        serial, body = await documents.certificate_pdf(actor=user, certificate_id=certificate_id)
        return Response(
            body,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{serial}.pdf"'},
        )


class CommunityVolunteeringController(Controller):
    path = "/communities/{community_id:uuid}"
    tags = ["volunteers"]

    @post("/skills", status_code=201)
    async def add_skill(self, user: CurrentUser, community_id: UUID, data: SkillIn = Body()) -> SkillOut:
        async with db.unit_of_work():
            return await profiles.create_skill(actor=user, community_id=community_id, skill_in=data)

    @get("/skills")
    async def skills(self, user: CurrentUser, community_id: UUID) -> list[SkillOut]:
        return await profiles.get_skills(actor=user, community_id=community_id)

    @get("/volunteer-settings")
    async def volunteer_settings(self, user: CurrentUser, community_id: UUID) -> VolunteerSettingsOut:
        await require_member(user, community_id)
        return await profiles.settings_of(community_id)

    @put("/volunteer-settings")
    async def set_volunteer_settings(
        self, user: CurrentUser, community_id: UUID, data: VolunteerSettingsIn = Body()
    ) -> VolunteerSettingsOut:
        async with db.unit_of_work():
            return await profiles.set_settings(actor=user, community_id=community_id, settings_in=data)

    @get("/volunteers")
    async def volunteers(
        self,
        user: CurrentUser,
        community_id: UUID,
        skill: str | None = None,
        tag: str | None = None,
        limit: int = Parameter(default=100, ge=1, le=500),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[VolunteerOut]:
        return await profiles.get_all(
            actor=user, community_id=community_id, skill=skill, tag=tag, limit=limit, offset=offset
        )

    @get("/volunteer-hours")
    async def volunteer_hours(
        self,
        user: CurrentUser,
        community_id: UUID,
        period: str | None = Parameter(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
    ) -> list[VolunteerHoursRow]:
        return await hours.community_hours(actor=user, community_id=community_id, period=period)

    @post("/tasks/assign", status_code=200)
    async def assign_all(self, user: CurrentUser, community_id: UUID) -> BatchAssignOut:
        async with db.unit_of_work():
            return await batch.batch_assign(actor=user, community_id=community_id)


class TeamController(Controller):
    path = "/teams"
    tags = ["volunteers"]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        user: CurrentUser,
        data: TeamIn = Body(),
        idempotency_key: str | None = IDEMPOTENCY_KEY,
    ) -> Response[TeamOut]:
        return await create_once(
            request, user_id=user.id, key=idempotency_key, data=data, run=lambda: teams.create(actor=user, team_in=data)
        )

    @get("/{team_id:uuid}")
    async def team(self, user: CurrentUser, team_id: UUID) -> TeamOut:
        return await teams.get(actor=user, team_id=team_id)

    @post("/{team_id:uuid}/members", status_code=201)
    async def add_member(self, user: CurrentUser, team_id: UUID, data: TeamMemberIn = Body()) -> TeamOut:
        async with db.unit_of_work():
            return await teams.add_member(actor=user, team_id=team_id, member_in=data)

    @get("/{team_id:uuid}/hours")
    async def approved_hours(self, user: CurrentUser, team_id: UUID) -> TeamHoursOut:
        return await hours.team_hours(actor=user, team_id=team_id)


class TeamOfferController(Controller):
    path = "/team-offers"
    tags = ["volunteers"]

    @post("/{offer_id:uuid}/accept", status_code=200)
    async def accept(self, user: CurrentUser, offer_id: UUID, data: TeamAcceptIn = Body()) -> list[AssignmentOut]:
        async with db.unit_of_work():
            return await teams.accept_team_offer(actor=user, offer_id=offer_id, accept_in=data)

    @post("/{offer_id:uuid}/decline", status_code=200)
    async def decline(self, user: CurrentUser, offer_id: UUID) -> TeamOfferOut:
        async with db.unit_of_work():
            return await teams.decline_team_offer(actor=user, offer_id=offer_id)


class TaskController(Controller):
    path = "/tasks"
    tags = ["volunteers"]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        user: CurrentUser,
        data: TaskIn = Body(),
        idempotency_key: str | None = IDEMPOTENCY_KEY,
    ) -> Response[TaskOut]:
        return await create_once(
            request, user_id=user.id, key=idempotency_key, data=data, run=lambda: tasks.create(actor=user, task_in=data)
        )

    @get("/{task_id:uuid}")
    async def task(self, user: CurrentUser, task_id: UUID) -> TaskOut:
        return await tasks.get(actor=user, task_id=task_id)

    @post("/{task_id:uuid}/match", status_code=200)
    async def match(self, user: CurrentUser, task_id: UUID) -> MatchOut:
        async with db.unit_of_work():
            return await offers.match(actor=user, task_id=task_id)

    @get("/{task_id:uuid}/assignments")
    async def assignments(self, user: CurrentUser, task_id: UUID) -> list[AssignmentOut]:
        return await offers.task_assignments(actor=user, task_id=task_id)

    @post("/{task_id:uuid}/team-offers", status_code=201)
    async def offer_to_team(self, user: CurrentUser, task_id: UUID, data: TeamOfferIn = Body()) -> TeamOfferOut:
        async with db.unit_of_work():
            return await teams.offer_to_team(actor=user, task_id=task_id, offer_in=data)

    @post("/{task_id:uuid}/check-in-code", status_code=200)
    async def check_in_code(self, user: CurrentUser, task_id: UUID) -> CheckInCodeOut:
        async with db.unit_of_work():
            return await tasks.issue_check_in_code(actor=user, task_id=task_id)

    @post("/{task_id:uuid}/cancel", status_code=200)
    async def cancel(self, user: CurrentUser, task_id: UUID) -> TaskOut:
        async with db.unit_of_work():
            return await tasks.transition(actor=user, task_id=task_id, action="cancel")

    @post("/{task_id:uuid}/complete", status_code=200)
    async def complete(self, user: CurrentUser, task_id: UUID) -> TaskOut:
        async with db.unit_of_work():
            return await tasks.transition(actor=user, task_id=task_id, action="complete")


class HelpRequestController(Controller):
    path = "/help-requests"
    tags = ["volunteers"]

    @post("/", status_code=201)
    async def ask(
        self,
        request: Request[Any, Any, Any],
        user: CurrentUser,
        data: HelpRequestIn = Body(),
        idempotency_key: str | None = IDEMPOTENCY_KEY,
    ) -> Response[TaskOut]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: tasks.create_help_request(actor=user, help_in=data),
        )


class AssignmentController(Controller):
    path = "/assignments"
    tags = ["volunteers"]

    @get("/{assignment_id:uuid}")
    async def assignment(self, user: CurrentUser, assignment_id: UUID) -> AssignmentOut:
        return await offers.get_assignment(actor=user, assignment_id=assignment_id)

    @post("/{assignment_id:uuid}/accept", status_code=200)
    async def accept(self, user: CurrentUser, assignment_id: UUID) -> AssignmentOut:
        async with db.unit_of_work():
            return await offers.accept(actor=user, assignment_id=assignment_id)

    @post("/{assignment_id:uuid}/decline", status_code=200)
    async def decline(self, user: CurrentUser, assignment_id: UUID) -> AssignmentOut:
        async with db.unit_of_work():
            return await offers.decline(actor=user, assignment_id=assignment_id)

    @post("/{assignment_id:uuid}/cancel", status_code=200)
    async def cancel(self, user: CurrentUser, assignment_id: UUID) -> AssignmentOut:
        async with db.unit_of_work():
            return await offers.cancel(actor=user, assignment_id=assignment_id)

    @post("/{assignment_id:uuid}/check-in", status_code=200)
    async def check_in(self, user: CurrentUser, assignment_id: UUID, data: CodeIn | None = None) -> AssignmentOut:
        async with db.unit_of_work():
            return await hours.check_in(actor=user, assignment_id=assignment_id, code=data.code if data else None)

    @post("/{assignment_id:uuid}/check-out", status_code=200)
    async def check_out(self, user: CurrentUser, assignment_id: UUID, data: CodeIn | None = None) -> AssignmentOut:
        async with db.unit_of_work():
            return await hours.check_out(actor=user, assignment_id=assignment_id, code=data.code if data else None)

    @post("/{assignment_id:uuid}/approve", status_code=200)
    async def approve(self, user: CurrentUser, assignment_id: UUID, data: ApproveIn | None = None) -> AssignmentOut:
        async with db.unit_of_work():
            return await hours.approve(actor=user, assignment_id=assignment_id, approve_in=data or ApproveIn())

    @post("/{assignment_id:uuid}/no-show", status_code=200)
    async def no_show(self, user: CurrentUser, assignment_id: UUID) -> AssignmentOut:
        async with db.unit_of_work():
            return await hours.mark_no_show(actor=user, assignment_id=assignment_id)

    @post("/{assignment_id:uuid}/hours-corrections", status_code=201)
    async def correct(self, user: CurrentUser, assignment_id: UUID, data: CorrectionIn = Body()) -> HoursEntryOut:
        async with db.unit_of_work():
            return await hours.correct(actor=user, assignment_id=assignment_id, correction_in=data)


class TimeBankController(Controller):
    path = "/time-bank"
    tags = ["volunteers"]

    @get("/accounts/{community_id:uuid}")
    async def my_account(self, user: CurrentUser, community_id: UUID) -> TimeAccountOut:
        async with db.unit_of_work():
            return await timebank.get_account(actor=user, community_id=community_id, user_id=user.id)

    @get("/accounts/{community_id:uuid}/{user_id:uuid}")
    async def account(self, user: CurrentUser, community_id: UUID, user_id: UUID) -> TimeAccountOut:
        async with db.unit_of_work():
            return await timebank.get_account(actor=user, community_id=community_id, user_id=user_id)

    @post("/gifts", status_code=201)
    async def gift(
        self,
        request: Request[Any, Any, Any],
        user: CurrentUser,
        data: GiftIn = Body(),
        idempotency_key: str | None = IDEMPOTENCY_KEY,
    ) -> Response[TimeTransferOut]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: timebank.gift(actor=user, gift_in=data),
        )

    @post("/donations", status_code=201)
    async def donate(
        self,
        request: Request[Any, Any, Any],
        user: CurrentUser,
        data: DonationIn = Body(),
        idempotency_key: str | None = IDEMPOTENCY_KEY,
    ) -> Response[TimeTransferOut]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: timebank.donate(actor=user, donation_in=data),
        )


CONTROLLERS = [
    VolunteerController,
    ServiceCertificateController,
    CommunityVolunteeringController,
    TeamController,
    TeamOfferController,
    TaskController,
    HelpRequestController,
    AssignmentController,
    TimeBankController,
]
