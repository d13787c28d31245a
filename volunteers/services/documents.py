"""Numbered service certificates (志愿服务证明, PDF) and an iCal feed of a volunteer's assignments."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from functools import lru_cache
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from community import access
from linli import audit, db
from linli.auth.security import CurrentUser
from linli.errors import NotFound, register_code
from volunteers.schemas import ServiceCertificateOut
from volunteers.services.common import load_volunteer, require_self_or_staff
from volunteers.services.hours import activities, approved_minutes
from volunteers.services.profiles import settings_of, star_level

CERTIFICATE_NOT_FOUND = register_code("service_certificate_not_found", 404, "服务证明不存在", "No such certificate")


@lru_cache(maxsize=1)
def cjk_font_path() -> str:
    """Noto Sans CJK, shipped as a pip package (cvttf-notosanscjk-regular) so PDFs render Chinese anywhere."""
    import cvttf_NotoSansCJK_Regular  # type: ignore[import-untyped]

    return str(cvttf_NotoSansCJK_Regular.get_TTF_path())


async def issue_certificate(*, actor: CurrentUser, volunteer_id: UUID) -> ServiceCertificateOut:
    """Community staff issue a numbered certificate of the hours approved so far (a snapshot)."""
    volunteer = await load_volunteer(volunteer_id)
    await access.require_role(actor, volunteer["community_id"], "staff")
    minutes = await approved_minutes(volunteer_id)
    thresholds = (await settings_of(volunteer["community_id"])).star_thresholds_hours
    serial = await db.fetchval("SELECT nextval('volunteer_service_certificate_serial')")
    now = datetime.now(UTC)
    serial_no = f"LLZY-{now:%Y}-{serial:06d}"
    done = await activities(volunteer_id)
    row = await db.fetchrow(
        "INSERT INTO volunteer_service_certificates (id, community_id, volunteer_id, serial_no, approved_minutes,"
        " star_level, activities, issued_by, issued_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6::jsonb,"
        " $7, $8) RETURNING *",
        volunteer["community_id"],
        volunteer_id,
        serial_no,
        minutes,
        star_level(minutes, thresholds),
        json.dumps([{"title": t, "minutes": m} for t, m in done], ensure_ascii=False),
        actor.id,
        now,
    )
    assert row is not None
    await audit.record(
        actor_user_id=actor.id,
        action="volunteer.certificate_issued",
        object_type="volunteer",
        object_id=volunteer_id,
        community_id=volunteer["community_id"],
        detail={"serial_no": serial_no, "minutes": minutes},
    )
    return _certificate_out(row)


def _certificate_out(row: asyncpg.Record) -> ServiceCertificateOut:
    return ServiceCertificateOut(
        id=row["id"],
        serial_no=row["serial_no"],
        volunteer_id=row["volunteer_id"],
        approved_minutes=row["approved_minutes"],
        star_level=row["star_level"],
        issued_at=row["issued_at"],
    )


async def certificate_pdf(*, actor: CurrentUser, certificate_id: UUID) -> tuple[str, bytes]:
    """(serial number, PDF bytes) of an issued certificate, for the volunteer or community staff."""
    row = await db.fetchrow("SELECT * FROM volunteer_service_certificates WHERE id = $1", certificate_id)
    if row is None:
        raise NotFound("no such certificate", code=CERTIFICATE_NOT_FOUND)
    volunteer = await load_volunteer(row["volunteer_id"])
    try:
        await require_self_or_staff(actor, volunteer)
    except NotFound:
        raise NotFound("no such certificate", code=CERTIFICATE_NOT_FOUND) from None
    community = await db.fetchrow("SELECT name, street, timezone FROM communities WHERE id = $1", row["community_id"])
    assert community is not None
    raw = row["activities"]
    acts = json.loads(raw) if isinstance(raw, str) else raw
    issued_local = row["issued_at"].astimezone(ZoneInfo(community["timezone"]))
    # Rendering (font parsing and subsetting) takes a moment of CPU: keep it off the event loop.
    pdf = await asyncio.to_thread(
        render_certificate,
        serial_no=row["serial_no"],
        name=volunteer["name"],
        approved_minutes=row["approved_minutes"],
        star_level=row["star_level"],
        activities=[(a["title"], a["minutes"]) for a in acts],
        community=f"{community['street']}{community['name']}",
        issued_on=f"{issued_local:%Y年%m月%d日}",
    )
    return row["serial_no"], pdf


def _hours_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} 小时" + (f" {rest} 分钟" if rest else "")


def render_certificate(
    *,
    serial_no: str,
    name: str,
    approved_minutes: int,
    star_level: int,
    activities: list[tuple[str, int]],
    community: str,
    issued_on: str,
) -> bytes:
    """An A4 certificate; the CJK font is embedded (subset) so it renders without system fonts."""
    from fpdf import FPDF
    from fpdf.enums import WrapMode

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.add_font("noto", "", cjk_font_path())
    pdf.set_draw_color(180, 30, 30)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 190, 277)
    pdf.set_font("noto", size=26)
    pdf.set_y(30)
    pdf.cell(0, 14, "志愿服务证明", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("noto", size=10)
    pdf.cell(0, 8, f"编号 No. {serial_no}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_font("noto", size=14)
    stars = "★" * star_level if star_level else "—"
    body = (
        f"兹证明{name}同志在{community}参加志愿服务,经审核累计志愿服务时长"
        f"{_hours_text(approved_minutes)},星级{stars}({star_level}星)。"
    )
    pdf.set_x(25)
    pdf.multi_cell(160, 9, body, new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    pdf.ln(6)
    pdf.set_font("noto", size=12)
    pdf.set_x(25)
    pdf.cell(0, 8, "服务项目:", new_x="LMARGIN", new_y="NEXT")
    for title, minutes in activities[:25]:
        pdf.set_x(32)
        pdf.cell(110, 8, f"· {title}")
        pdf.cell(40, 8, _hours_text(minutes), align="R", new_x="LMARGIN", new_y="NEXT")
    if len(activities) > 25:
        pdf.set_x(32)
        pdf.cell(0, 8, f"…… 另有 {len(activities) - 25} 项", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(235)
    pdf.set_font("noto", size=13)
    pdf.cell(175, 9, f"出具单位:{community}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(175, 9, issued_on, align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


async def calendar(*, actor: CurrentUser, volunteer_id: UUID) -> bytes:
    """An iCal feed (text/calendar) of the volunteer's accepted and past assignments."""
    from icalendar import Calendar, Event

    volunteer = await load_volunteer(volunteer_id)
    await require_self_or_staff(actor, volunteer)
    rows = await db.fetch(
        "SELECT a.id, a.status, t.title, t.description, t.location, t.starts_at, t.ends_at"
        " FROM volunteer_assignments a JOIN volunteer_tasks t ON t.id = a.task_id WHERE a.volunteer_id = $1"
        " AND a.status IN ('accepted', 'checked_in', 'checked_out', 'approved') ORDER BY t.starts_at",
        volunteer_id,
    )
    cal = Calendar()
    cal.add("prodid", "-//Linli 邻里//volunteers//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{volunteer['name']}的志愿服务")
    for r in rows:
        event = Event()
        event.add("uid", f"{r['id']}@linli")
        event.add("summary", r["title"])
        event.add("dtstart", r["starts_at"])
        event.add("dtend", r["ends_at"])
        event.add("dtstamp", datetime.now(UTC))
        if r["location"]:
            event.add("location", r["location"])
        if r["description"]:
            event.add("description", r["description"])
        event.add("status", "CONFIRMED")
        cal.add_component(event)
    return bytes(cal.to_ical())
