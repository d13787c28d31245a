"""A community's volunteers and their approved service records, in the columns the national volunteer information
system (全国志愿服务信息系统 / 志愿中国) imports, as CSV (UTF-8 with a BOM, so Excel opens Chinese text right) and
XLSX.

One row per served assignment: its minutes are the approval plus every correction of it (the hours ledger,
append-only), so each approved minute is in exactly one row, and an assignment corrected down to nothing has no
row. Rows are chosen by the local date the task began, as certificates choose them. The identity number is never
stored in full (volunteers.identity), so the file carries the masked form the profile keeps; a volunteer without
real-name data is listed by the account's name with the identity columns empty.

Exporting is staff's work in their own community and is audited (who, when, which period, how many rows): the file
holds personal data.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

from community import access
from linli import audit, db
from linli.auth.security import CurrentUser
from linli.errors import BadInput, register_code
from volunteers.services import certificates

EXPORT_PERIOD_INVALID = register_code(
    "export_period_invalid", 422, "导出期间的开始日期不能晚于结束日期", "The period's first day is after its last"
)

ID_TYPE = "居民身份证"
RECORD_COLUMNS = (
    "姓名",
    "证件类型",
    "证件号码",
    "服务日期",
    "服务开始时间",
    "服务结束时间",
    "服务时长(小时)",
    "服务组织",
    "服务项目",
    "服务地点",
    "服务时长(分钟)",
    "记录编号",
)
VOLUNTEER_COLUMNS = (
    "姓名",
    "证件类型",
    "证件号码",
    "实名登记",
    "服务记录数",
    "累计服务时长(小时)",
    "累计服务时长(分钟)",
)
# A cell starting with one of these is a formula to Excel (CSV injection): such text gets a leading apostrophe in
# the CSV and is stored as text in the XLSX.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    name: str
    id_number_masked: str | None
    served_on: date
    started_at: datetime
    ended_at: datetime
    minutes: int
    organisation: str
    project: str
    location: str
    record_id: UUID

    @property
    def hours(self) -> Decimal:
        return hours_of(self.minutes)


@dataclass(frozen=True, slots=True)
class VolunteerTotal:
    name: str
    id_number_masked: str | None
    records: int
    minutes: int


@dataclass(frozen=True, slots=True)
class NationalRecords:
    community_name: str
    period_from: date | None
    period_to: date | None
    records: list[ServiceRecord]
    volunteers: list[VolunteerTotal]


def hours_of(minutes: int) -> Decimal:
    """Hours with two decimals, as the national system records them (the exact minutes have their own column)."""
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def get_records(
    *, actor: CurrentUser, community_id: UUID, period_from: date | None = None, period_to: date | None = None
) -> NationalRecords:
    """Staff of the community (or a platform admin): every volunteer of the community and every served assignment
    whose task began within [period_from, period_to] (local dates; either end open), oldest first."""
    await access.require_role(actor, community_id, "staff")
    if period_from and period_to and period_from > period_to:
        raise BadInput("the period's first day is after its last", code=EXPORT_PERIOD_INVALID)
    community = await db.fetchrow("SELECT name, timezone FROM communities WHERE id = $1", community_id)
    assert community is not None
    tz = community["timezone"]
    # Unnamed organisers are the community itself, named as on its certificates.
    organisation = (await certificates.get_issuer(actor=actor, community_id=community_id)).organisation
    rows = await db.fetch(
        "SELECT e.assignment_id, e.volunteer_id, coalesce(v.real_name, u.name) AS name, v.id_number_masked,"
        " (t.starts_at AT TIME ZONE $2)::date AS served_on, coalesce(a.checked_in_at, t.starts_at) AS started_at,"
        " coalesce(a.checked_out_at, t.ends_at) AS ended_at, t.title, t.location, tm.name AS team_name,"
        " p.name AS partner_name, sum(e.minutes)::int AS minutes"
        " FROM volunteer_hours_entries e"
        " JOIN volunteer_assignments a ON a.id = e.assignment_id JOIN volunteer_tasks t ON t.id = e.task_id"
        " JOIN volunteer_profiles v ON v.id = e.volunteer_id JOIN users u ON u.id = v.user_id"
        " LEFT JOIN volunteer_teams tm ON tm.id = e.team_id LEFT JOIN partners p ON p.id = t.partner_id"
        " WHERE e.community_id = $1"
        " AND ($3::date IS NULL OR (t.starts_at AT TIME ZONE $2)::date >= $3)"
        " AND ($4::date IS NULL OR (t.starts_at AT TIME ZONE $2)::date <= $4)"
        " GROUP BY e.assignment_id, e.volunteer_id, v.real_name, u.name, v.id_number_masked, t.starts_at,"
        " t.ends_at, a.checked_in_at, a.checked_out_at, t.title, t.location, tm.name, p.name"
        " HAVING sum(e.minutes) > 0 ORDER BY t.starts_at, name, e.assignment_id",
        community_id,
        tz,
        period_from,
        period_to,
    )
    zone = ZoneInfo(tz)
    records: list[ServiceRecord] = []
    served: dict[UUID, tuple[int, int]] = {}  # volunteer id -> (records, minutes)
    for r in rows:
        records.append(
            ServiceRecord(
                name=r["name"],
                id_number_masked=r["id_number_masked"],
                served_on=r["served_on"],
                started_at=r["started_at"].astimezone(zone),
                ended_at=r["ended_at"].astimezone(zone),
                minutes=r["minutes"],
                organisation=r["team_name"] or r["partner_name"] or organisation,
                project=r["title"],
                location=r["location"],
                record_id=r["assignment_id"],
            )
        )
        count, minutes = served.get(r["volunteer_id"], (0, 0))
        served[r["volunteer_id"]] = (count + 1, minutes + r["minutes"])
    profiles = await db.fetch(
        "SELECT v.id, coalesce(v.real_name, u.name) AS name, v.id_number_masked FROM volunteer_profiles v"
        " JOIN users u ON u.id = v.user_id WHERE v.community_id = $1 ORDER BY name, v.id",
        community_id,
    )
    volunteers = [
        VolunteerTotal(
            name=v["name"],
            id_number_masked=v["id_number_masked"],
            records=served.get(v["id"], (0, 0))[0],
            minutes=served.get(v["id"], (0, 0))[1],
        )
        for v in profiles
    ]
    return NationalRecords(
        community_name=community["name"],
        period_from=period_from,
        period_to=period_to,
        records=records,
        volunteers=volunteers,
    )


# --- files --------------------------------------------------------------------------------------------------


def _csv_cell(value: Any) -> Any:
    """Local times to the minute, dates in ISO form, and text that Excel shows as written, never evaluates."""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _record_cells(record: ServiceRecord) -> list[Any]:
    return [
        record.name,
        ID_TYPE if record.id_number_masked else "",
        record.id_number_masked or "",
        record.served_on,
        record.started_at.replace(tzinfo=None, second=0, microsecond=0),
        record.ended_at.replace(tzinfo=None, second=0, microsecond=0),
        record.hours,
        record.organisation,
        record.project,
        record.location,
        record.minutes,
        str(record.record_id),
    ]


def _volunteer_cells(total: VolunteerTotal) -> list[Any]:
    return [
        total.name,
        ID_TYPE if total.id_number_masked else "",
        total.id_number_masked or "",
        "是" if total.id_number_masked else "否",
        total.records,
        hours_of(total.minutes),
        total.minutes,
    ]


def render_csv(export: NationalRecords) -> bytes:
    """The record sheet as CSV: UTF-8 with a BOM (Excel's cue for UTF-8), CRLF line ends, local times."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RECORD_COLUMNS)
    for record in export.records:
        writer.writerow([_csv_cell(cell) for cell in _record_cells(record)])
    return out.getvalue().encode("utf-8-sig")


def render_xlsx(export: NationalRecords) -> bytes:
    """A workbook of two sheets: 服务记录 (the records, as in the CSV) and 志愿者 (every volunteer with totals).
    Dates and times are real cells, hours and minutes numbers, and text is always text (never a formula)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    formats = {date: "yyyy-mm-dd", datetime: "yyyy-mm-dd hh:mm", Decimal: "0.00"}

    def row(sheet: Any, cells: list[Any]) -> list[WriteOnlyCell]:
        out = []
        for value in cells:
            cell = WriteOnlyCell(sheet, value=float(value) if isinstance(value, Decimal) else value)
            if isinstance(value, str):
                cell.data_type = "s"  # openpyxl would take "=…" for a formula
            fmt = formats.get(type(value))
            if fmt:
                cell.number_format = fmt
            out.append(cell)
        return out

    records = book.create_sheet("服务记录")
    records.append(row(records, list(RECORD_COLUMNS)))
    for record in export.records:
        records.append(row(records, _record_cells(record)))
    volunteers = book.create_sheet("志愿者")
    volunteers.append(row(volunteers, list(VOLUNTEER_COLUMNS)))
    for total in export.volunteers:
        volunteers.append(row(volunteers, _volunteer_cells(total)))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class ExportFile:
    content: bytes
    media_type: str
    content_disposition: str


MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


async def export_file(
    *,
    actor: CurrentUser,
    community_id: UUID,
    file_format: str,
    period_from: date | None = None,
    period_to: date | None = None,
) -> ExportFile:
    """The national record export of the community as `file_format` ("csv" or "xlsx"), audited."""
    export = await get_records(actor=actor, community_id=community_id, period_from=period_from, period_to=period_to)
    # openpyxl takes about 3 s for 20,000 records (CSV 0.2 s): off the event loop, so the process keeps serving.
    content = await asyncio.to_thread(render_csv if file_format == "csv" else render_xlsx, export)
    await audit.record(
        actor_user_id=actor.id,
        action="volunteers.national_records_exported",
        object_type="community",
        object_id=community_id,
        community_id=community_id,
        detail={
            "format": file_format,
            "period_from": period_from,
            "period_to": period_to,
            "records": len(export.records),
            "minutes": sum(r.minutes for r in export.records),
        },
    )
    span = f"{period_from or '始'}至{period_to or '今'}"
    name = f"{export.community_name}志愿服务记录{span}.{file_format}"
    # An ASCII name for old clients, the Chinese one for the rest (RFC 6266 / 5987).
    ascii_name = f"volunteer-records-{period_from or 'start'}-{period_to or 'now'}.{file_format}"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return ExportFile(content=content, media_type=MEDIA_TYPES[file_format], content_disposition=disposition)
