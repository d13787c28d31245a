"""Community staff export their volunteers' approved service for the national volunteer information system
(全国志愿服务信息系统): CSV for any tool, XLSX for Excel; every approved minute once, corrections included, the
identity number only masked, and nobody outside the community's staff gets the file."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from linli import db
from tests.api import community_with_staff, sign_up
from tests.marketplace_api import assert_problem
from tests.volunteers_api import accepted_offer, act, catalog, certificate_issuer, id_number, real_name, volunteer
from volunteers.services.export import RECORD_COLUMNS, VOLUNTEER_COLUMNS

HE_ID = id_number("19850612", 231)
INJECTION = '=HYPERLINK("http://evil.example","点我")'


async def _served(client, setup, person, minutes, *, days_ago: int = 0, corrections=(), **task_kw) -> str:
    """An assignment served, approved for `minutes` by the task's owner, then corrected by each delta."""
    t, assignment = await accepted_offer(client, setup, person, **task_kw)
    assert (await act(client, person, assignment, "check-in")).status_code == 200
    assert (await act(client, person, assignment, "check-out")).status_code == 200
    r = await act(client, setup.staff, assignment, "approve", {"minutes": minutes})
    assert r.status_code == 200, r.text
    for delta in corrections:
        body = {"minutes_delta": delta, "reason": "补录签到时间" if delta > 0 else "提前离开"}
        r = await act(client, setup.staff, assignment, "hours-corrections", body)
        assert r.status_code == 201, r.text
    if days_ago:
        await db.execute(
            "UPDATE volunteer_tasks SET starts_at = starts_at - $2::interval, ends_at = ends_at - $2::interval"
            " WHERE id = $1",
            UUID(t["id"]),
            timedelta(days=days_ago),
        )
    return assignment


async def _street(client):
    """A community where 何志愿 (real name registered) and 郑晓燕 (no real name yet) served, with corrections."""
    setup = await community_with_staff(client)
    await catalog(client, setup)
    await certificate_issuer(client, setup)
    he, he_profile = await volunteer(client, setup, "小何", skills={"meal_delivery": 3})
    await real_name(client, he, he_profile, "何志愿", HE_ID)
    zheng, _ = await volunteer(client, setup, "郑晓燕", skills={"haircut": 3})
    served = {
        # approved 90, then 15 minutes taken off: 75 (each task moves into the past once served, so the next
        # one finds its volunteer free)
        await _served(client, setup, he, 90, corrections=(-15,), days_ago=1, title="助餐配送"): 75,
        # approved 100, then 20 added and 7 taken off: 113; long ago
        await _served(client, setup, he, 100, corrections=(20, -7), days_ago=40, title="陪诊"): 113,
        await _served(
            client, setup, zheng, 61, days_ago=2, skills={"haircut": 1}, title=INJECTION, location="党群服务中心"
        ): 61,
    }
    # Corrected down to nothing: served no minutes, so it has no row.
    await _served(client, setup, zheng, 25, corrections=(-25,), days_ago=3, skills={"haircut": 1}, title="理发")
    return setup, served


def _csv_rows(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    reader = csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""))
    header = next(reader)
    assert tuple(header) == RECORD_COLUMNS
    return [dict(zip(header, row, strict=True)) for row in reader]


def _sheet(book: Any, name: str, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = list(book[name].iter_rows(values_only=True))
    assert rows[0] == columns
    return [dict(zip(columns, row, strict=True)) for row in rows[1:]]


async def _ledger_minutes(community_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT coalesce(sum(minutes), 0) FROM volunteer_hours_entries WHERE community_id = $1", UUID(community_id)
        )
    )


async def test_staff_export_every_approved_minute_once_as_csv(client):
    setup, served = await _street(client)
    r = await client.get(f"/api/v1/communities/{setup.id}/volunteer-records/national.csv", headers=setup.staff.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="volunteer-records-')
    assert r.headers["cache-control"] == "no-store"
    rows = _csv_rows(r.content)

    # One row per served assignment, each with its approval net of corrections; the zeroed one is absent.
    assert {row["记录编号"]: int(row["服务时长(分钟)"]) for row in rows} == served
    assert sum(int(row["服务时长(分钟)"]) for row in rows) == await _ledger_minutes(setup.id) == 75 + 113 + 61
    for row in rows:
        assert Decimal(row["服务时长(小时)"]) == (Decimal(row["服务时长(分钟)"]) / 60).quantize(Decimal("0.01"))
    by_project = {row["服务项目"]: row for row in rows}
    assert by_project["助餐配送"]["服务时长(小时)"] == "1.25"

    # Real name and the masked number where registered; the full number never leaves the server.
    he = by_project["助餐配送"]
    assert (he["姓名"], he["证件类型"], he["证件号码"]) == ("何志愿", "居民身份证", HE_ID[:4] + "*" * 10 + HE_ID[-4:])
    assert HE_ID not in r.content.decode("utf-8-sig")
    zheng = next(row for row in rows if row["姓名"] == "郑晓燕")
    assert (zheng["证件类型"], zheng["证件号码"]) == ("", "")

    # Organised by the community itself: the organisation its certificates name. Dates are local.
    assert {row["服务组织"] for row in rows} == {"光阳社区居民委员会"}
    tz = ZoneInfo("Asia/Shanghai")
    old = by_project["陪诊"]
    assert date.fromisoformat(old["服务日期"]) <= (datetime.now(UTC) - timedelta(days=39)).astimezone(tz).date()
    assert datetime.strptime(old["服务开始时间"], "%Y-%m-%d %H:%M")
    # Oldest first.
    assert [row["服务日期"] for row in rows] == sorted(row["服务日期"] for row in rows)

    # A title that is a formula reaches Excel as text, not as a link to click.
    assert zheng["服务项目"] == "'" + INJECTION
    assert zheng["服务地点"] == "党群服务中心"

    audit = await db.fetchrow(
        "SELECT actor_user_id, detail FROM audit_events WHERE action = 'volunteers.national_records_exported'"
    )
    assert audit is not None and str(audit["actor_user_id"]) == setup.staff.id


async def test_the_workbook_holds_the_same_records_and_every_volunteer_with_totals(client):
    setup, served = await _street(client)
    r = await client.get(f"/api/v1/communities/{setup.id}/volunteer-records/national.xlsx", headers=setup.admin.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["服务记录", "志愿者"]

    records = _sheet(book, "服务记录", RECORD_COLUMNS)
    assert {row["记录编号"]: row["服务时长(分钟)"] for row in records} == served
    assert sum(row["服务时长(分钟)"] for row in records) == await _ledger_minutes(setup.id)
    for row in records:
        assert isinstance(row["服务日期"], datetime)  # a real date cell, sortable in Excel
        assert round(row["服务时长(小时)"], 2) == round(row["服务时长(分钟)"] / 60, 2)
    injected = next(row for row in records if row["姓名"] == "郑晓燕")
    assert injected["服务项目"] == INJECTION
    cell = next(c for c in book["服务记录"]["I"] if c.value == INJECTION)
    assert cell.data_type == "s"  # text, never evaluated

    volunteers = {row["姓名"]: row for row in _sheet(book, "志愿者", VOLUNTEER_COLUMNS)}
    assert volunteers["何志愿"]["实名登记"] == "是"
    assert (volunteers["何志愿"]["服务记录数"], volunteers["何志愿"]["累计服务时长(分钟)"]) == (2, 75 + 113)
    assert (volunteers["郑晓燕"]["实名登记"], volunteers["郑晓燕"]["证件号码"]) == ("否", None)
    assert (volunteers["郑晓燕"]["服务记录数"], volunteers["郑晓燕"]["累计服务时长(分钟)"]) == (1, 61)
    assert HE_ID.encode() not in r.content


async def test_a_period_exports_only_the_service_that_began_in_it(client):
    setup, _ = await _street(client)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    url = f"/api/v1/communities/{setup.id}/volunteer-records/national.csv"
    recent = _csv_rows(
        (await client.get(url, params={"from": str(today - timedelta(days=7))}, headers=setup.staff.headers)).content
    )
    assert sorted(int(row["服务时长(分钟)"]) for row in recent) == [61, 75]
    older = _csv_rows(
        (await client.get(url, params={"to": str(today - timedelta(days=7))}, headers=setup.staff.headers)).content
    )
    assert [int(row["服务时长(分钟)"]) for row in older] == [113]

    backwards = await client.get(
        url, params={"from": str(today), "to": str(today - timedelta(days=1))}, headers=setup.staff.headers
    )
    assert_problem(backwards, 422, "export_period_invalid")
    assert backwards.json()["title"] == "导出期间的开始日期不能晚于结束日期"
    assert_problem(await client.get(url, params={"from": "yesterday"}, headers=setup.staff.headers), 422)


async def test_nobody_but_the_communitys_staff_gets_the_file(client):
    setup, _ = await _street(client)
    other = await community_with_staff(client, "长河社区")
    resident = await sign_up(client, "居民老王")
    for fmt in ("csv", "xlsx"):
        url = f"/api/v1/communities/{setup.id}/volunteer-records/national.{fmt}"
        assert_problem(await client.get(url, headers=other.staff.headers), 403)
        assert_problem(await client.get(url, headers=other.admin.headers), 403)
        assert_problem(await client.get(url, headers=resident.headers), 403)
        assert (await client.get(url)).status_code == 401
        unknown = f"/api/v1/communities/{UUID(int=7)}/volunteer-records/national.{fmt}"
        assert_problem(await client.get(unknown, headers=setup.staff.headers), 404)
    # The other community's own export is theirs, and empty: nothing of this community leaks into it.
    mine = await client.get(
        f"/api/v1/communities/{other.id}/volunteer-records/national.csv", headers=other.staff.headers
    )
    assert mine.status_code == 200
    assert _csv_rows(mine.content) == []
    # Only the export that was answered is in the audit trail (the refusals wrote nothing).
    exports = "SELECT count(*) FROM audit_events WHERE action = 'volunteers.national_records_exported'"
    assert await db.fetchval(exports) == 1
