"""HTTP: volunteers, skills, teams, tasks and help requests, offers and assignments, hours, time bank."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from linli import db
from linli.auth.security import Caller
from linli.idempotency import IdempotencyKey, create_once
from linli.schemas import NUL_FREE
from volunteers import timebank
from volunteers.export_controller import NationalRecordsController
from volunteers.schemas import (
    CODE_PATTERN,
    ApproveIn,
    AssignmentOut,
    BatchAssignIn,
    BatchAssignOut,
    CertificateIssuerIn,
    CertificateIssuerOut,
    CertificateVerificationOut,
    CheckInCodeOut,
    CodeIn,
    CorrectionIn,
    DonationIn,
    GiftIn,
    HelpRequestIn,
    HoursEntryOut,
    HoursOut,
    MatchOut,
    RealNameIn,
    RevokeIn,
    ServiceCertificateIn,
    ServiceCertificateOut,
    SkillIn,
    SkillOut,
    SkillPatch,
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
from volunteers.services import batch, certificates, documents, hours, offers, profiles, tasks, teams
from volunteers.services.common import require_member


class VolunteerController(Controller):
    path = "/volunteers"
    tags = ["volunteers"]

    @post("/", status_code=201)
    async def register(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        data: JSONBody[VolunteerIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[VolunteerOut]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: profiles.create(actor=user, volunteer_in=data),
        )

    @get("/{volunteer_id:uuid}")
    async def profile(self, user: Caller, volunteer_id: FromPath[UUID]) -> VolunteerOut:
        return await profiles.get(actor=user, volunteer_id=volunteer_id)

    @put("/{volunteer_id:uuid}")
    async def update(self, user: Caller, volunteer_id: FromPath[UUID], data: JSONBody[VolunteerUpdate]) -> VolunteerOut:
        async with db.unit_of_work():
            return await profiles.update(actor=user, volunteer_id=volunteer_id, volunteer_in=data)

    @get("/{volunteer_id:uuid}/hours")
    async def approved_hours(self, user: Caller, volunteer_id: FromPath[UUID]) -> HoursOut:
        return await hours.hours(actor=user, volunteer_id=volunteer_id)

    @get("/{volunteer_id:uuid}/hours/ledger")
    async def ledger(self, user: Caller, volunteer_id: FromPath[UUID]) -> list[HoursEntryOut]:
        return await hours.ledger(actor=user, volunteer_id=volunteer_id)

    @get("/{volunteer_id:uuid}/calendar.ics", media_type="text/calendar; charset=utf-8")
    async def calendar(self, user: Caller, volunteer_id: FromPath[UUID]) -> Response[bytes]:
        body = await documents.calendar(actor=user, volunteer_id=volunteer_id)
        return Response(body, media_type="text/calendar; charset=utf-8")

    @put("/{volunteer_id:uuid}/real-name")
    async def set_real_name(
        self, user: Caller, volunteer_id: FromPath[UUID], data: JSONBody[RealNameIn]
    ) -> VolunteerOut:
        async with db.unit_of_work():
            return await profiles.set_real_name(actor=user, volunteer_id=volunteer_id, real_name_in=data)

    @post("/{volunteer_id:uuid}/service-certificates", status_code=201)
    async def issue_certificate(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        volunteer_id: FromPath[UUID],
        data: JSONBody[ServiceCertificateIn | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ServiceCertificateOut]:
        period = data or ServiceCertificateIn()
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=period,
            run=lambda: certificates.issue(actor=user, volunteer_id=volunteer_id, certificate_in=period),
        )

    @get("/{volunteer_id:uuid}/service-certificates")
    async def list_certificates(self, user: Caller, volunteer_id: FromPath[UUID]) -> list[ServiceCertificateOut]:
        return await certificates.get_all(actor=user, volunteer_id=volunteer_id)


class ServiceCertificateController(Controller):
    path = "/service-certificates"
    tags = ["volunteers"]

    @get("/{certificate_id:uuid}")
    async def certificate(self, user: Caller, certificate_id: FromPath[UUID]) -> ServiceCertificateOut:
        return await certificates.get(actor=user, certificate_id=certificate_id)

    @get("/{certificate_id:uuid}/pdf", media_type="application/pdf")
    async def pdf(self, user: Caller, certificate_id: FromPath[UUID]) -> Response[bytes]:
        serial, body = await certificates.pdf(actor=user, certificate_id=certificate_id)
        return Response(
            body,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{serial}.pdf"'},
        )

    @post("/{certificate_id:uuid}/revoke", status_code=200)
    async def revoke(
        self, user: Caller, certificate_id: FromPath[UUID], data: JSONBody[RevokeIn]
    ) -> ServiceCertificateOut:
        async with db.unit_of_work():
            return await certificates.revoke(actor=user, certificate_id=certificate_id, revoke_in=data)


class PublicCertificateController(Controller):
    """Anyone holding a certificate checks it: no sign-in (the path is public, linli.auth.security)."""

    path = "/public/certificates"
    tags = ["volunteers"]

    @get("/{serial_no:str}")
    async def verify(
        self,
        serial_no: FromPath[str],
        code: Annotated[str, QueryParameter(max_length=20, pattern=NUL_FREE, description="the check code")] = "",
    ) -> CertificateVerificationOut:
        return await certificates.verify(serial=serial_no, check_code=code)


class CommunityVolunteeringController(Controller):
    path = "/communities/{community_id:uuid}"
    tags = ["volunteers"]

    @post("/skills", status_code=201)
    async def add_skill(self, user: Caller, community_id: FromPath[UUID], data: JSONBody[SkillIn]) -> SkillOut:
        async with db.unit_of_work():
            return await profiles.create_skill(actor=user, community_id=community_id, skill_in=data)

    @get("/skills")
    async def skills(self, user: Caller, community_id: FromPath[UUID]) -> list[SkillOut]:
        return await profiles.get_skills(actor=user, community_id=community_id)

    @patch("/skills/{code:str}")
    async def edit_skill(
        self, user: Caller, community_id: FromPath[UUID], code: FromPath[str], data: JSONBody[SkillPatch]
    ) -> SkillOut:
        async with db.unit_of_work():
            return await profiles.update_skill(actor=user, community_id=community_id, code=code, patch=data)

    @delete("/skills/{code:str}", status_code=204)
    async def remove_skill(self, user: Caller, community_id: FromPath[UUID], code: FromPath[str]) -> None:
        async with db.unit_of_work():
            await profiles.remove_skill(actor=user, community_id=community_id, code=code)

    @get("/volunteer-settings")
    async def volunteer_settings(self, user: Caller, community_id: FromPath[UUID]) -> VolunteerSettingsOut:
        await require_member(user, community_id)
        return await profiles.settings_of(community_id)

    @put("/volunteer-settings")
    async def set_volunteer_settings(
        self, user: Caller, community_id: FromPath[UUID], data: JSONBody[VolunteerSettingsIn]
    ) -> VolunteerSettingsOut:
        async with db.unit_of_work():
            return await profiles.set_settings(actor=user, community_id=community_id, settings_in=data)

    @get("/certificate-issuer")
    async def certificate_issuer(self, user: Caller, community_id: FromPath[UUID]) -> CertificateIssuerOut:
        return await certificates.get_issuer(actor=user, community_id=community_id)

    @put("/certificate-issuer")
    async def set_certificate_issuer(
        self, user: Caller, community_id: FromPath[UUID], data: JSONBody[CertificateIssuerIn]
    ) -> CertificateIssuerOut:
        async with db.unit_of_work():
            return await certificates.set_issuer(actor=user, community_id=community_id, issuer_in=data)

    @get("/volunteers")
    async def volunteers(
        self,
        user: Caller,
        community_id: FromPath[UUID],
        skill: Annotated[str | None, QueryParameter(pattern=CODE_PATTERN)] = None,
        tag: Annotated[str | None, QueryParameter(max_length=30, pattern=NUL_FREE)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0,
    ) -> list[VolunteerOut]:
        return await profiles.get_all(
            actor=user, community_id=community_id, skill=skill, tag=tag, limit=limit, offset=offset
        )

    @get("/volunteer-hours")
    async def volunteer_hours(
        self,
        user: Caller,
        community_id: FromPath[UUID],
        period: Annotated[str | None, QueryParameter(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
    ) -> list[VolunteerHoursRow]:
        return await hours.community_hours(actor=user, community_id=community_id, period=period)

    @post("/tasks/assign", status_code=200)
    async def assign_all(
        self, user: Caller, community_id: FromPath[UUID], data: JSONBody[BatchAssignIn | None] = None
    ) -> BatchAssignOut:
        async with db.unit_of_work():
            return await batch.batch_assign(
                actor=user, community_id=community_id, until=data.until if data is not None else None
            )


class TeamController(Controller):
    path = "/teams"
    tags = ["volunteers"]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        data: JSONBody[TeamIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[TeamOut]:
        return await create_once(
            request, user_id=user.id, key=idempotency_key, data=data, run=lambda: teams.create(actor=user, team_in=data)
        )

    @get("/{team_id:uuid}")
    async def team(self, user: Caller, team_id: FromPath[UUID]) -> TeamOut:
        return await teams.get(actor=user, team_id=team_id)

    @post("/{team_id:uuid}/members", status_code=201)
    async def add_member(self, user: Caller, team_id: FromPath[UUID], data: JSONBody[TeamMemberIn]) -> TeamOut:
        async with db.unit_of_work():
            return await teams.add_member(actor=user, team_id=team_id, member_in=data)

    @get("/{team_id:uuid}/hours")
    async def approved_hours(self, user: Caller, team_id: FromPath[UUID]) -> TeamHoursOut:
        return await hours.team_hours(actor=user, team_id=team_id)


class TeamOfferController(Controller):
    path = "/team-offers"
    tags = ["volunteers"]

    @post("/{offer_id:uuid}/accept", status_code=200)
    async def accept(self, user: Caller, offer_id: FromPath[UUID], data: JSONBody[TeamAcceptIn]) -> list[AssignmentOut]:
        async with db.unit_of_work():
            return await teams.accept_team_offer(actor=user, offer_id=offer_id, accept_in=data)

    @post("/{offer_id:uuid}/decline", status_code=200)
    async def decline(self, user: Caller, offer_id: FromPath[UUID]) -> TeamOfferOut:
        async with db.unit_of_work():
            return await teams.decline_team_offer(actor=user, offer_id=offer_id)


class TaskController(Controller):
    path = "/tasks"
    tags = ["volunteers"]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        data: JSONBody[TaskIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[TaskOut]:
        return await create_once(
            request, user_id=user.id, key=idempotency_key, data=data, run=lambda: tasks.create(actor=user, task_in=data)
        )

    @get("/{task_id:uuid}")
    async def task(self, user: Caller, task_id: FromPath[UUID]) -> TaskOut:
        return await tasks.get(actor=user, task_id=task_id)

    @post("/{task_id:uuid}/match", status_code=200)
    async def match(self, user: Caller, task_id: FromPath[UUID]) -> MatchOut:
        async with db.unit_of_work():
            return await offers.match(actor=user, task_id=task_id)

    @get("/{task_id:uuid}/assignments")
    async def assignments(self, user: Caller, task_id: FromPath[UUID]) -> list[AssignmentOut]:
        return await offers.task_assignments(actor=user, task_id=task_id)

    @post("/{task_id:uuid}/team-offers", status_code=201)
    async def offer_to_team(self, user: Caller, task_id: FromPath[UUID], data: JSONBody[TeamOfferIn]) -> TeamOfferOut:
        async with db.unit_of_work():
            return await teams.offer_to_team(actor=user, task_id=task_id, offer_in=data)

    @post("/{task_id:uuid}/check-in-code", status_code=200)
    async def check_in_code(self, user: Caller, task_id: FromPath[UUID]) -> CheckInCodeOut:
        async with db.unit_of_work():
            return await tasks.issue_check_in_code(actor=user, task_id=task_id)

    @post("/{task_id:uuid}/cancel", status_code=200)
    async def cancel(self, user: Caller, task_id: FromPath[UUID]) -> TaskOut:
        async with db.unit_of_work():
            return await tasks.transition(actor=user, task_id=task_id, action="cancel")

    @post("/{task_id:uuid}/complete", status_code=200)
    async def complete(self, user: Caller, task_id: FromPath[UUID]) -> TaskOut:
        async with db.unit_of_work():
            return await tasks.transition(actor=user, task_id=task_id, action="complete")


class HelpRequestController(Controller):
    path = "/help-requests"
    tags = ["volunteers"]

    @post("/", status_code=201)
    async def ask(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        data: JSONBody[HelpRequestIn],
        idempotency_key: IdempotencyKey = None,
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
    async def assignment(self, user: Caller, assignment_id: FromPath[UUID]) -> AssignmentOut:
        return await offers.get_assignment(actor=user, assignment_id=assignment_id)

    @post("/{assignment_id:uuid}/accept", status_code=200)
    async def accept(self, user: Caller, assignment_id: FromPath[UUID]) -> AssignmentOut:
        async with db.unit_of_work():
            return await offers.accept(actor=user, assignment_id=assignment_id)

    @post("/{assignment_id:uuid}/decline", status_code=200)
    async def decline(self, user: Caller, assignment_id: FromPath[UUID]) -> AssignmentOut:
        async with db.unit_of_work():
            return await offers.decline(actor=user, assignment_id=assignment_id)

    @post("/{assignment_id:uuid}/cancel", status_code=200)
    async def cancel(self, user: Caller, assignment_id: FromPath[UUID]) -> AssignmentOut:
        async with db.unit_of_work():
            return await offers.cancel(actor=user, assignment_id=assignment_id)

    @post("/{assignment_id:uuid}/check-in", status_code=200)
    async def check_in(
        self, user: Caller, assignment_id: FromPath[UUID], data: JSONBody[CodeIn | None] = None
    ) -> AssignmentOut:
        async with db.unit_of_work():
            return await hours.check_in(actor=user, assignment_id=assignment_id, code=data.code if data else None)

    @post("/{assignment_id:uuid}/check-out", status_code=200)
    async def check_out(
        self, user: Caller, assignment_id: FromPath[UUID], data: JSONBody[CodeIn | None] = None
    ) -> AssignmentOut:
        async with db.unit_of_work():
            return await hours.check_out(actor=user, assignment_id=assignment_id, code=data.code if data else None)

    @post("/{assignment_id:uuid}/approve", status_code=200)
    async def approve(
        self, user: Caller, assignment_id: FromPath[UUID], data: JSONBody[ApproveIn | None] = None
    ) -> AssignmentOut:
        async with db.unit_of_work():
            return await hours.approve(actor=user, assignment_id=assignment_id, approve_in=data or ApproveIn())

    @post("/{assignment_id:uuid}/no-show", status_code=200)
    async def no_show(self, user: Caller, assignment_id: FromPath[UUID]) -> AssignmentOut:
        async with db.unit_of_work():
            return await hours.mark_no_show(actor=user, assignment_id=assignment_id)

    @post("/{assignment_id:uuid}/hours-corrections", status_code=201)
    async def correct(self, user: Caller, assignment_id: FromPath[UUID], data: JSONBody[CorrectionIn]) -> HoursEntryOut:
        async with db.unit_of_work():
            return await hours.correct(actor=user, assignment_id=assignment_id, correction_in=data)


class TimeBankController(Controller):
    path = "/time-bank"
    tags = ["volunteers"]

    @get("/accounts/{community_id:uuid}")
    async def my_account(self, user: Caller, community_id: FromPath[UUID]) -> TimeAccountOut:
        async with db.unit_of_work():
            return await timebank.get_account(actor=user, community_id=community_id, user_id=user.id)

    @get("/accounts/{community_id:uuid}/{user_id:uuid}")
    async def account(self, user: Caller, community_id: FromPath[UUID], user_id: FromPath[UUID]) -> TimeAccountOut:
        async with db.unit_of_work():
            return await timebank.get_account(actor=user, community_id=community_id, user_id=user_id)

    @post("/gifts", status_code=201)
    async def gift(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        data: JSONBody[GiftIn],
        idempotency_key: IdempotencyKey = None,
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
        user: Caller,
        data: JSONBody[DonationIn],
        idempotency_key: IdempotencyKey = None,
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
    PublicCertificateController,
    CommunityVolunteeringController,
    TeamController,
    TeamOfferController,
    TaskController,
    HelpRequestController,
    AssignmentController,
    TimeBankController,
    NationalRecordsController,
]
