"""The partner's desk, its times: every offering's weekly schedules and the coming slots with places booked and
left, in one place, with a form for a new weekly schedule and one for a one-off time (a holiday lunch, an extra
check-up morning). The pages call the scheduling services the JSON API calls; who may add is theirs to say (the
partner's admin), so staff see the times and get the API's refusal if they try.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from community import services as community
from console import web
from console.i18n import error_title, translate
from linli.errors import DomainError
from partners import offerings
from partners import services as partners
from partners.schemas import OfferingOut
from scheduling import services as scheduling
from scheduling.schemas import ScheduleIn, SlotIn

web.notices(
    weekly_added="每周安排已保存,接下来几周的时段已生成。",
    slot_added="单次时段已开放,居民现在可以预约。",
)
WEEKDAYS = [("1", "周一"), ("2", "周二"), ("3", "周三"), ("4", "周四"), ("5", "周五"), ("6", "周六"), ("7", "周日")]
# The one-off form's fields carry a prefix so both forms on the page keep their own values and errors.
_SLOT_FIELDS = {"starts_at": "slot_start", "ends_at": "slot_end", "capacity": "slot_capacity"}
_SLOT_CODES = {"slot_in_past": "slot_start", "slot_exists": "slot_start", "slot_times_invalid": "slot_end"}
_WEEKLY_CODES = {"validation_error": "valid_from"}  # a date PostgreSQL cannot hold


def _offering_id(request: Request[Any, Any, Any], data: dict[str, Any], field: str, mine: list[OfferingOut]) -> UUID:
    """The offering picked in a form, one of this partner's (else the field says to choose from the list)."""
    chosen = str(data.get(field, ""))
    for offering in mine:
        if str(offering.id) == chosen:
            return offering.id
    en = web.is_english(request)
    raise web.FormErrors({field: f"{error_title('validation_error', en=en)}:{translate('请从列表中选择', en=en)}"})


class DeskPartnerPages(Controller):
    path = "/partner/{partner_id:uuid}"

    async def _page(
        self,
        request: Request[Any, Any, Any],
        viewer: Any,
        partner_id: UUID,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Template:
        mine = await _bookable(viewer, partner_id)
        partner = await partners.get(partner_id=partner_id)
        tz = await community.timezone_of(community_id=partner.community_id)
        today = datetime.now(ZoneInfo(tz)).date()
        times = []
        for offering in mine:
            times.append(
                (
                    offering,
                    await scheduling.get_schedules(actor=viewer, offering_id=offering.id),
                    await scheduling.get_slots(actor=viewer, offering_id=offering.id, from_=None, to=None),
                )
            )
        first = str(mine[0].id) if mine else ""
        return web.page(
            request,
            "desk_partner/schedules.html",
            viewer=viewer,
            partner=partner,
            times=times,
            choices=[(str(o.id), o.title) for o in mine],
            weekdays=WEEKDAYS,
            may_add=await partners.can_act(viewer, partner, "admin"),
            tz=tz,
            errors=errors or {},
            values=values
            or {
                "offering_id": first,
                "weekdays": ["1", "2", "3", "4", "5"],
                "start_time": "11:00",
                "end_time": "12:30",
                "capacity": "30",
                "valid_from": today.isoformat(),
                "slot_offering_id": first,
                "slot_date": today.isoformat(),
                "slot_capacity": "20",
            },
            idempotency_key=uuid4().hex,
            status_code=status_code,
        )

    @get("/schedules")
    async def schedules(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, partner_id: FromPath[UUID]
    ) -> Template:
        """每周安排与时段: each offering's weekly schedules and the next two weeks' slots (booked / left)."""
        return await self._page(request, viewer, partner_id)

    @post("/schedules/weekly")
    async def add_weekly(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, partner_id: FromPath[UUID]
    ) -> Response[Any]:
        mine = await _bookable(viewer, partner_id)  # the partner's staff only, before the form is read
        data = await web.form_of(request)
        key = web.form_key(data)
        days = data.get("weekdays", [])
        data["weekdays"] = days if isinstance(days, list) else [days]
        try:
            offering_id = _offering_id(request, data, "offering_id", mine)
            fields = {k: data.get(k) for k in ("weekdays", "start_time", "end_time", "capacity", "valid_from")}
            schedule_in = web.parse(request, ScheduleIn, _given(fields))
            await web.create_once(
                viewer=viewer,
                key=key,
                path=f"/partner/{partner_id}/schedules/weekly",
                model=schedule_in,
                run=lambda: scheduling.create_schedule(actor=viewer, offering_id=offering_id, schedule_in=schedule_in),
            )
        except web.FormErrors as bad:
            errors = bad.errors
        except DomainError as exc:
            errors = web.domain_errors(request, exc, _WEEKLY_CODES)
        else:
            return web.redirect_with(f"/partner/{partner_id}/schedules", "weekly_added")
        if "__all__" in errors:  # the schema's own cross-field rule (ends before it starts) is about the end
            errors["end_time"] = errors.pop("__all__")
        return await self._page(request, viewer, partner_id, errors=errors, values=data, status_code=400)

    @post("/schedules/slots")
    async def add_slot(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, partner_id: FromPath[UUID]
    ) -> Response[Any]:
        mine = await _bookable(viewer, partner_id)
        data = await web.form_of(request)
        key = web.form_key(data)
        day = str(data.get("slot_date", "")).strip()

        def at(clock: str) -> str | None:
            clock = str(data.get(clock, "")).strip()
            return f"{day}T{clock}" if day and clock else None  # naive: the community's wall clock

        try:
            offering_id = _offering_id(request, data, "slot_offering_id", mine)
            try:
                slot_in = web.parse(
                    request,
                    SlotIn,
                    _given(
                        {
                            "starts_at": at("slot_start"),
                            "ends_at": at("slot_end"),
                            "capacity": data.get("slot_capacity"),
                        }
                    ),
                )
            except web.FormErrors as bad:
                raise web.FormErrors(
                    {("slot_date" if not day else _SLOT_FIELDS.get(k, k)): v for k, v in bad.errors.items()}
                ) from None
            await web.create_once(
                viewer=viewer,
                key=key,
                path=f"/partner/{partner_id}/schedules/slots",
                model=slot_in,
                run=lambda: scheduling.create_slot(actor=viewer, offering_id=offering_id, slot_in=slot_in),
            )
        except web.FormErrors as bad:
            errors = bad.errors
        except DomainError as exc:
            errors = web.domain_errors(request, exc, _SLOT_CODES)
        else:
            return web.redirect_with(f"/partner/{partner_id}/schedules", "slot_added")
        if "__all__" in errors:
            errors["slot_end"] = errors.pop("__all__")
        return await self._page(request, viewer, partner_id, errors=errors, values=data, status_code=400)


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    """Only the fields filled in: an empty one is missing, as an absent JSON key is (the schema asks for it)."""
    return {k: v for k, v in fields.items() if v not in (None, "")}


async def _bookable(viewer: Any, partner_id: UUID) -> list[OfferingOut]:
    """The partner's offerings that can have times (not archived); refuses anyone but the partner's staff."""
    listed = await offerings.get_all_of_partner(actor=viewer, partner_id=partner_id)
    return [o for o in listed if o.status != "archived"]
