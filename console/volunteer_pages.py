"""一键呼叫 (asking for help), one's volunteering (offers, hours, star level, time bank, certificates) and 代办:
the pages a resident, a volunteer and a grid worker use for themselves and their neighbours."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from community import services as community
from console import web
from linli import db
from linli.errors import DomainError
from marketplace.services import access
from volunteers import timebank
from volunteers.schemas import HelpRequestIn
from volunteers.services import certificates, hours, offers, profiles, tasks

web.notices(
    help_sent="已经通知志愿者和社区,请保持电话畅通。",
    offer_accepted="您已接下这个任务,谢谢您!",
    offer_declined="已婉拒这个任务。",
)

# The quick choices on the help page: what elderly residents most often ask for.
HELP_CHOICES = ["身体不舒服,需要人来看看", "买菜送饭", "陪同看病", "家里东西坏了", "想找人聊聊天"]
# Offers still open, and tasks taken and not yet done.
_OPEN = ("offered", "accepted", "checked_in")


async def _resident_communities(viewer: Any) -> list[tuple[str, str]]:
    me = await community.me(user=viewer)
    return [(str(c.community_id), c.community_name) for c in me.communities if "resident" in c.roles]


class VolunteerPages(Controller):
    path = "/"

    @get("/help")
    async def help_form(self, request: Request[Any, Any, Any], viewer: web.Viewer) -> Template:
        options = await _resident_communities(viewer)
        return web.page(
            request,
            "mine/help.html",
            viewer=viewer,
            community_options=options,
            choices=HELP_CHOICES,
            values={"community_id": options[0][0] if options else ""},
            idempotency_key=uuid4().hex,
        )

    @post("/help")
    async def ask_for_help(self, request: Request[Any, Any, Any], viewer: web.Viewer) -> Response[Any]:
        data = await web.form_of(request)
        key = web.form_key(data)
        data["urgent"] = data.get("urgent") in ("on", "true", "1")
        data.setdefault("title", "一键呼叫")
        try:
            help_in = web.parse(request, HelpRequestIn, web.blank_to_none(data))
            await web.create_once(
                viewer=viewer,
                key=key,
                path="/help",
                model=help_in,
                status_code=201,
                run=lambda: tasks.create_help_request(actor=viewer, help_in=help_in),
            )
        except web.FormErrors as bad:
            errors = bad.errors
        except DomainError as exc:
            errors = web.domain_errors(request, exc)
        else:
            return web.redirect_with("/help", "help_sent")
        return web.page(
            request,
            "mine/help.html",
            viewer=viewer,
            community_options=await _resident_communities(viewer),
            choices=HELP_CHOICES,
            values=data,
            errors=errors,
            idempotency_key=uuid4().hex,
            status_code=400,
        )

    @get("/me/volunteer")
    async def my_volunteering(self, request: Request[Any, Any, Any], viewer: web.Viewer) -> Template:
        """Each community I volunteer in: my hours and star level, time-bank balance, certificates; my offers."""
        sections = []
        for profile in await profiles.get_mine(actor=viewer):
            sections.append(
                {
                    "profile": profile,
                    "hours": await hours.hours(actor=viewer, volunteer_id=profile.id),
                    "account": await timebank.get_account(
                        actor=viewer, community_id=profile.community_id, user_id=viewer.id
                    ),
                    "certificates": await certificates.get_all(actor=viewer, volunteer_id=profile.id),
                }
            )
        assignments = await offers.get_mine(actor=viewer, statuses=_OPEN)
        task_of = {a.task_id: await tasks.get(actor=viewer, task_id=a.task_id) for a in assignments}
        return web.page(
            request,
            "mine/volunteer.html",
            viewer=viewer,
            sections=sections,
            assignments=assignments,
            task_of=task_of,
        )

    @post("/me/volunteer/assignments/{assignment_id:uuid}/{action:str}")
    async def answer_offer(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, assignment_id: FromPath[UUID], action: FromPath[str]
    ) -> Response[Any]:
        run = {"accept": offers.accept, "decline": offers.decline}.get(action)
        if run is None:
            raise DomainError("no such action", code="not_found")
        try:
            async with db.unit_of_work():
                await run(actor=viewer, assignment_id=assignment_id)
        except DomainError as exc:
            return web.page(
                request,
                "mine/problem.html",
                viewer=viewer,
                errors=web.domain_errors(request, exc),
                status_code=exc.status_code,
            )
        return web.redirect_with("/me/volunteer", "offer_accepted" if action == "accept" else "offer_declined")

    @get("/me/volunteer/certificates/{certificate_id:uuid}/pdf")
    async def certificate_pdf(self, viewer: web.Viewer, certificate_id: FromPath[UUID]) -> Response[bytes]:
        serial, body = await certificates.pdf(actor=viewer, certificate_id=certificate_id)
        return Response(
            body, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{serial}.pdf"'}
        )

    @get("/proxy")
    async def proxy(self, request: Request[Any, Any, Any], viewer: web.Viewer) -> Template:
        """代办: the residents I may book for, in each community where I may."""
        me = await community.me(user=viewer)
        groups = []
        for c in me.communities:
            residents = await access.proxy_residents(actor=viewer, community_id=c.community_id)
            if residents:
                groups.append({"community": c, "residents": residents})
        return web.page(request, "mine/proxy.html", viewer=viewer, groups=groups)

    @get("/proxy/{community_id:uuid}/{resident_id:uuid}")
    async def proxy_for(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        community_id: FromPath[UUID],
        resident_id: FromPath[UUID],
    ) -> Response[Any]:
        await access.require_proxy(viewer, community_id=community_id, resident_id=resident_id)
        notice = request.query_params.get("notice")
        target = f"/catalog?community_id={community_id}&resident_id={resident_id}"
        return web.redirect(target + (f"&notice={notice}" if notice in web.NOTICES else ""))
