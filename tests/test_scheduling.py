"""Partners open one-off slots and weekly schedules in their community's local time; residents see what is free."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from linli import db
from scheduling import services, tasks
from tests.api import CommunitySetup, community_with_staff, grant, platform_admin, sign_up
from tests.partners_api import (
    SHANGHAI,
    approved_partner,
    local,
    offering,
    partner_staff,
    published_offering,
    slot,
)

API = "/api/v1"
BERLIN = ZoneInfo("Europe/Berlin")


async def count(sql: str, *args) -> int:
    return int(await db.fetchval(sql, *args))


async def community_in(client, timezone: str) -> CommunitySetup:
    platform = await platform_admin(client)
    r = await client.post(
        f"{API}/communities", json={"name": "柏林华人社区", "timezone": timezone}, headers=platform.headers
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    admin, staff = await sign_up(client, "社区书记"), await sign_up(client, "社工")
    await grant(client, platform, cid, admin, "admin")
    await grant(client, admin, cid, staff, "staff")
    return CommunitySetup(id=cid, platform=platform, admin=admin, staff=staff)


@pytest.fixture
async def canteen(client):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    o = await published_offering(client, p)
    return setup, p, o


async def test_canteen_opens_a_lunch_slot_and_residents_see_free_places(client, canteen):
    _, p, o = canteen
    starts = local(days=2, hour=11, minute=30)
    s = await slot(client, p, o["id"], starts_at=starts, capacity=30)
    assert (s["capacity"], s["remaining"], s["booked"], s["status"]) == (30, 30, 0, "open")
    assert datetime.fromisoformat(s["starts_at"]) == starts
    r = await client.get(f"{API}/offerings/{o['id']}/slots")
    assert r.status_code == 200
    assert [(x["id"], x["capacity"], x["remaining"]) for x in r.json()] == [(s["id"], 30, 30)]
    await db.execute("UPDATE slots SET booked = 12 WHERE id = $1", UUID(s["id"]))
    listed = (await client.get(f"{API}/offerings/{o['id']}/slots")).json()
    assert listed[0]["remaining"] == 18
    single = await client.get(f"{API}/slots/{s['id']}")
    assert single.json()["remaining"] == 18


async def test_naive_times_are_the_communitys_local_time(client, canteen):
    _, p, o = canteen
    day = local(days=3).date()
    r = await client.post(
        f"{API}/offerings/{o['id']}/slots",
        json={"starts_at": f"{day}T11:30:00", "ends_at": f"{day}T12:30:00", "capacity": 5},
        headers=p.headers,
    )
    assert r.status_code == 201, r.text
    stored = await db.fetchval("SELECT starts_at FROM slots WHERE id = $1", UUID(r.json()["id"]))
    assert stored == datetime(day.year, day.month, day.day, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"starts_at": "+2d 11:30", "ends_at": "+2d 11:00", "capacity": 5}, 422),
        ({"starts_at": "+2d 11:30", "ends_at": "+2d 11:30", "capacity": 5}, 422),
        ({"starts_at": "-1d 11:30", "ends_at": "-1d 12:30", "capacity": 5}, 422),
        ({"starts_at": "+2d 11:30", "ends_at": "+2d 12:30", "capacity": 0}, 422),
        ({"starts_at": "+2d 11:30", "ends_at": "+2d 12:30", "capacity": -3}, 422),
        ({"starts_at": "+2d 11:30", "ends_at": "+2d 12:30", "capacity": 10_001}, 422),
        ({"starts_at": "+2d 11:30", "ends_at": "+2d 12:30", "capacity": 10**30}, 422),
        ({"starts_at": "+2d 11:30", "ends_at": "+2d 12:30", "capacity": "ten"}, 422),
        ({"starts_at": "next tuesday", "ends_at": "+2d 12:30", "capacity": 5}, 422),
        ({"starts_at": "+2d 11:30", "ends_at": "+40d 12:30", "capacity": 5}, 422),
        ({"starts_at": "+400d 11:30", "ends_at": "+400d 12:30", "capacity": 5}, 422),
        ({"ends_at": "+2d 12:30", "capacity": 5}, 422),
        ({"starts_at": "0001-01-01T00:00:00", "ends_at": "0001-01-01T01:00:00", "capacity": 5}, 422),
        ({"starts_at": "9999-12-31T22:00:00", "ends_at": "9999-12-31T23:00:00", "capacity": 5}, 422),
        ({"starts_at": "9999-12-31T22:00:00-12:00", "ends_at": "9999-12-31T23:00:00-12:00", "capacity": 5}, 422),
    ],
)
async def test_bad_slots_are_refused_and_nothing_is_written(client, canteen, body, status):
    _, p, o = canteen

    def resolve(v):
        if isinstance(v, str) and v[0] in "+-" and "d " in v:
            days, hm = v[1:].split("d ")
            sign = -1 if v[0] == "-" else 1
            h, m = hm.split(":")
            return local(days=sign * int(days), hour=int(h), minute=int(m)).isoformat()
        return v

    r = await client.post(
        f"{API}/offerings/{o['id']}/slots", json={k: resolve(v) for k, v in body.items()}, headers=p.headers
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await count("SELECT count(*) FROM slots") == 0


async def test_two_slots_cannot_start_at_the_same_time(client, canteen):
    _, p, o = canteen
    starts = local(days=2)
    await slot(client, p, o["id"], starts_at=starts)
    r = await client.post(
        f"{API}/offerings/{o['id']}/slots",
        json={"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat(), "capacity": 3},
        headers=p.headers,
    )
    assert r.status_code == 409
    assert r.json()["code"] == "slot_exists"
    assert await count("SELECT count(*) FROM slots") == 1


async def test_retrying_a_slot_with_the_same_idempotency_key_creates_one(client, canteen):
    _, p, o = canteen
    starts = local(days=2)
    body = {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(), "capacity": 3}
    headers = {**p.headers, "Idempotency-Key": "slot-1"}
    a = await client.post(f"{API}/offerings/{o['id']}/slots", json=body, headers=headers)
    b = await client.post(f"{API}/offerings/{o['id']}/slots", json=body, headers=headers)
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] == b.json()["id"]
    assert await count("SELECT count(*) FROM slots") == 1


async def test_capacity_can_be_raised_but_never_lowered_below_booked(client, canteen):
    _, p, o = canteen
    s = await slot(client, p, o["id"], capacity=10)
    await db.execute("UPDATE slots SET booked = 7 WHERE id = $1", UUID(s["id"]))
    r = await client.patch(f"{API}/slots/{s['id']}", json={"capacity": 25}, headers=p.headers)
    assert r.status_code == 200
    assert (r.json()["capacity"], r.json()["remaining"]) == (25, 18)
    r = await client.patch(f"{API}/slots/{s['id']}", json={"capacity": 6}, headers=p.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "capacity_below_booked"
    assert await db.fetchval("SELECT capacity FROM slots WHERE id = $1", UUID(s["id"])) == 25
    r = await client.patch(f"{API}/slots/{s['id']}", json={"capacity": 7}, headers=p.headers)
    assert (r.status_code, r.json()["remaining"]) == (200, 0)
    for bad in (0, -1, 10_001, None, "many"):
        r = await client.patch(f"{API}/slots/{s['id']}", json={"capacity": bad}, headers=p.headers)
        assert r.status_code == 422, bad
    assert await db.fetchval("SELECT capacity FROM slots WHERE id = $1", UUID(s["id"])) == 7


async def test_cancelled_slot_leaves_the_listing_and_tells_the_marketplace(client, canteen):
    _, p, o = canteen
    s = await slot(client, p, o["id"])
    r = await client.post(f"{API}/slots/{s['id']}/cancel", json={"reason": "厨房检修"}, headers=p.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    assert (await client.get(f"{API}/offerings/{o['id']}/slots")).json() == []
    events = await db.fetch("SELECT payload FROM outbox_events WHERE topic = 'slot.cancelled'")
    assert len(events) == 1
    assert '"reason": "厨房检修"' in events[0]["payload"] and s["id"] in events[0]["payload"]
    again = await client.post(f"{API}/slots/{s['id']}/cancel", headers=p.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    assert (await client.patch(f"{API}/slots/{s['id']}", json={"capacity": 50}, headers=p.headers)).status_code == 409


async def test_nobody_but_the_partner_admin_manages_slots(client, canteen):
    setup, p, o = canteen
    other = await community_with_staff(client, "海甸社区")
    rival = await approved_partner(client, setup, name="邻家食堂")
    waiter = await partner_staff(client, p)
    resident = await sign_up(client, "陈阿婆")
    s = await slot(client, p, o["id"])
    draft = await offering(client, p, title="草稿套餐")
    starts = local(days=5)
    body = {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(), "capacity": 5}
    weekly = {"weekdays": [1], "start_time": "11:00", "end_time": "12:00", "capacity": 5, "valid_from": "2026-01-01"}
    for person in [resident, rival.admin, waiter, setup.staff, other.staff, other.admin]:
        for oid in (o["id"], draft["id"]):
            r = await client.post(f"{API}/offerings/{oid}/slots", json=body, headers=person.headers)
            assert r.status_code in (403, 404), (person.name, r.text)
            r = await client.post(f"{API}/offerings/{oid}/schedules", json=weekly, headers=person.headers)
            assert r.status_code in (403, 404), person.name
        assert (
            await client.patch(f"{API}/slots/{s['id']}", json={"capacity": 1}, headers=person.headers)
        ).status_code in (
            403,
            404,
        )
        assert (await client.post(f"{API}/slots/{s['id']}/cancel", headers=person.headers)).status_code in (403, 404)
    # A draft's slots are hidden from the public and from other partners.
    for headers in ({}, rival.headers, other.staff.headers):
        assert (await client.get(f"{API}/offerings/{draft['id']}/slots", headers=headers)).status_code == 404
    assert (await client.get(f"{API}/offerings/{draft['id']}/slots", headers=waiter.headers)).status_code == 200
    assert await count("SELECT count(*) FROM slots") == 1
    assert await count("SELECT count(*) FROM schedules") == 0
    assert await db.fetchval("SELECT (capacity, status)::text FROM slots") == "(10,open)"


async def test_unknown_and_malformed_ids_are_404(client, canteen):
    _, p, _ = canteen
    assert (await client.get(f"{API}/slots/{uuid4()}")).json()["code"] == "slot_not_found"
    assert (await client.patch(f"{API}/slots/{uuid4()}", json={"capacity": 3}, headers=p.headers)).status_code == 404
    assert (await client.post(f"{API}/slots/{uuid4()}/cancel", headers=p.headers)).status_code == 404
    assert (await client.get(f"{API}/offerings/{uuid4()}/slots")).status_code == 404
    assert (await client.get(f"{API}/offerings/{uuid4()}/calendar.ics")).status_code == 404
    r = await client.post(f"{API}/offerings/{uuid4()}/schedules", json={}, headers=p.headers)
    assert r.status_code in (404, 422)
    r = await client.get(f"{API}/slots/xyz")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_listing_window_accepts_dates_and_refuses_nonsense(client, canteen):
    _, p, o = canteen
    near = await slot(client, p, o["id"], starts_at=local(days=1))
    far = await slot(client, p, o["id"], starts_at=local(days=20))
    day1, day20 = local(days=1).date(), local(days=20).date()
    r = await client.get(
        f"{API}/offerings/{o['id']}/slots", params={"from": str(day1), "to": str(day1 + timedelta(days=1))}
    )
    assert [x["id"] for x in r.json()] == [near["id"]]
    r = await client.get(
        f"{API}/offerings/{o['id']}/slots", params={"from": str(day1), "to": str(day20 + timedelta(days=1))}
    )
    assert [x["id"] for x in r.json()] == [near["id"], far["id"]]
    for params in [
        {"from": "soon"},
        {"from": str(day20), "to": str(day1)},
        {"from": str(day1), "to": str(day1 + timedelta(days=400))},
    ]:
        r = await client.get(f"{API}/offerings/{o['id']}/slots", params=params)
        assert r.status_code == 422, params


# --- weekly schedules ---------------------------------------------------------------------------------------


async def test_weekly_lunch_schedule_is_materialised_four_weeks_ahead_in_local_time(client, canteen):
    _, p, o = canteen
    r = await client.post(
        f"{API}/offerings/{o['id']}/schedules",
        json={
            "weekdays": [1, 3, 5],
            "start_time": "11:30",
            "end_time": "12:30",
            "capacity": 40,
            "valid_from": "2026-01-01",
        },
        headers=p.headers,
    )
    assert r.status_code == 201, r.text
    schedule = r.json()
    today = datetime.now(SHANGHAI).date()
    assert schedule["materialised_until"] == str(today + timedelta(days=28))
    now = datetime.now(UTC)
    expected = []
    for i in range(29):
        d = today + timedelta(days=i)
        starts = datetime(d.year, d.month, d.day, 11, 30, tzinfo=SHANGHAI)
        if d.isoweekday() in (1, 3, 5) and starts > now:
            expected.append(starts)
    rows = await db.fetch(
        "SELECT starts_at, ends_at, capacity, schedule_id FROM slots WHERE offering_id = $1 ORDER BY starts_at",
        UUID(o["id"]),
    )
    assert [r["starts_at"] for r in rows] == expected
    assert all(r["ends_at"] - r["starts_at"] == timedelta(hours=1) for r in rows)
    # Asia/Shanghai has no DST: every lunch is 03:30 UTC.
    assert {(r["starts_at"].astimezone(UTC).hour, r["starts_at"].astimezone(UTC).minute) for r in rows} == {(3, 30)}
    assert {r["capacity"] for r in rows} == {40}
    assert {str(r["schedule_id"]) for r in rows} == {schedule["id"]}


async def test_a_schedules_times_of_day_are_what_the_api_document_says_they_are(client, canteen):
    # The document once called them ISO 8601 durations ("PT11H30M"); clients generated from it misread "11:30:00".
    _, p, o = canteen
    document = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    weekly = {"weekdays": [2], "start_time": "07:00", "end_time": "08:30", "capacity": 5, "valid_from": "2026-01-01"}
    r = await client.post(f"{API}/offerings/{o['id']}/schedules", json=weekly, headers=p.headers)
    assert r.status_code == 201, r.text
    for field, sent in (("start_time", "07:00:00"), ("end_time", "08:30:00")):
        assert r.json()[field] == sent
        for schema in (document["ScheduleIn"], document["ScheduleOut"]):
            described = schema["properties"][field]
            assert described.get("format") != "duration", described
            assert re.fullmatch(described["pattern"], sent) and re.fullmatch(described["pattern"], sent[:5])


async def test_materialising_again_creates_nothing_new(client, canteen):
    _, p, o = canteen
    one_off = await slot(client, p, o["id"], starts_at=local(days=7, hour=11, minute=30), capacity=3)
    r = await client.post(
        f"{API}/offerings/{o['id']}/schedules",
        json={
            "weekdays": list(range(1, 8)),
            "start_time": "11:30",
            "end_time": "12:30",
            "capacity": 40,
            "valid_from": "2026-01-01",
        },
        headers=p.headers,
    )
    assert r.status_code == 201
    before = await count("SELECT count(*) FROM slots")
    assert await tasks.materialise_schedules("test-run") == 0
    assert await services.materialise(schedule_id=UUID(r.json()["id"])) == 0
    assert await count("SELECT count(*) FROM slots") == before
    # The one-off slot at the same time is kept as it was.
    assert await db.fetchval("SELECT capacity FROM slots WHERE id = $1", UUID(one_off["id"])) == 3
    # A day later the job adds exactly the new day.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    async with db.unit_of_work():
        assert await services.materialise(schedule_id=UUID(r.json()["id"]), now=tomorrow) == 1
    # Ending the schedule stops it.
    ended = await client.post(f"{API}/schedules/{r.json()['id']}/end", headers=p.headers)
    assert ended.json()["status"] == "ended"
    assert await services.materialise(schedule_id=UUID(r.json()["id"]), now=tomorrow + timedelta(days=3)) == 0


async def test_schedule_respects_its_validity_window(client, canteen):
    _, p, o = canteen
    today = datetime.now(SHANGHAI).date()
    valid_from, valid_until = today + timedelta(days=3), today + timedelta(days=9)
    r = await client.post(
        f"{API}/offerings/{o['id']}/schedules",
        json={
            "weekdays": list(range(1, 8)),
            "start_time": "08:00",
            "end_time": "17:00",
            "capacity": 12,
            "valid_from": str(valid_from),
            "valid_until": str(valid_until),
        },
        headers=p.headers,
    )
    assert r.status_code == 201
    days = [
        row["d"]
        for row in await db.fetch("SELECT (starts_at AT TIME ZONE 'Asia/Shanghai')::date AS d FROM slots ORDER BY 1")
    ]
    assert days == [valid_from + timedelta(days=i) for i in range(7)]


async def test_daily_nine_oclock_stays_nine_oclock_across_the_dst_change(client):
    setup = await community_in(client, "Europe/Berlin")
    p = await approved_partner(client, setup, name="柏林中文托管", kind="childcare")
    o = await published_offering(client, p, title="课后托管", category="childcare", subsidies={})
    r = await client.post(
        f"{API}/offerings/{o['id']}/schedules",
        json={
            "weekdays": list(range(1, 8)),
            "start_time": "09:00",
            "end_time": "10:30",
            "capacity": 8,
            "valid_from": "2027-03-20",
            "valid_until": "2027-04-05",
        },
        headers=p.headers,
    )
    assert r.status_code == 201
    # Run the job as if it were 20 March 2027 (Europe moves its clocks on 28 March).
    async with db.unit_of_work():
        created = await services.materialise(
            schedule_id=UUID(r.json()["id"]), now=datetime(2027, 3, 19, 12, 0, tzinfo=UTC)
        )
    assert created == 17
    rows = await db.fetch(
        "SELECT starts_at, ends_at FROM slots WHERE offering_id = $1 ORDER BY starts_at", UUID(o["id"])
    )
    local_times = {(r["starts_at"].astimezone(BERLIN).hour, r["starts_at"].astimezone(BERLIN).minute) for r in rows}
    assert local_times == {(9, 0)}
    utc_hours = {r["starts_at"].astimezone(UTC).date(): r["starts_at"].astimezone(UTC).hour for r in rows}
    assert utc_hours[date(2027, 3, 27)] == 8 and utc_hours[date(2027, 3, 28)] == 7
    assert all(r["ends_at"] - r["starts_at"] == timedelta(minutes=90) for r in rows)


@pytest.mark.parametrize(
    "overrides",
    [
        {"weekdays": []},
        {"weekdays": [0]},
        {"weekdays": [8]},
        {"weekdays": ["monday"]},
        {"start_time": "25:00"},
        {"start_time": "12:30", "end_time": "11:30"},
        {"start_time": "12:30", "end_time": "12:30"},
        {"capacity": 0},
        {"capacity": 100_000},
        {"valid_from": "2027-02-01", "valid_until": "2027-01-01"},
        {"valid_from": "soon"},
    ],
)
async def test_bad_schedules_are_422_and_write_nothing(client, canteen, overrides):
    _, p, o = canteen
    body = {
        "weekdays": [1],
        "start_time": "11:30",
        "end_time": "12:30",
        "capacity": 5,
        "valid_from": "2026-01-01",
        **overrides,
    }
    r = await client.post(f"{API}/offerings/{o['id']}/schedules", json=body, headers=p.headers)
    assert r.status_code == 422, r.text
    assert await count("SELECT count(*) FROM schedules") == 0
    assert await count("SELECT count(*) FROM slots") == 0


async def test_archived_offering_takes_no_new_slots(client, canteen):
    _, p, o = canteen
    await client.post(f"{API}/offerings/{o['id']}/archive", headers=p.headers)
    starts = local(days=2)
    r = await client.post(
        f"{API}/offerings/{o['id']}/slots",
        json={"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(), "capacity": 5},
        headers=p.headers,
    )
    assert r.status_code == 409


async def test_the_periodic_job_is_registered():
    from workers.schedules import SCHEDULES

    assert any(s.actor_name == "scheduling.materialise_schedules" for s in SCHEDULES)


# --- iCal ---------------------------------------------------------------------------------------------------


async def test_calendar_feed_lists_open_slots(client, canteen):
    from icalendar import Calendar

    _, p, o = canteen
    a = await slot(client, p, o["id"], starts_at=local(days=1))
    b = await slot(client, p, o["id"], starts_at=local(days=2))
    await client.post(f"{API}/slots/{b['id']}/cancel", headers=p.headers)
    r = await client.get(f"{API}/offerings/{o['id']}/calendar.ics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    events = [e for e in cal.walk("VEVENT")]
    assert [str(e["uid"]) for e in events] == [f"slot-{a['id']}@linli"]
    assert str(events[0]["summary"]) == "爱心午餐"
    assert events[0].decoded("dtstart") == local(days=1)
    draft = await offering(client, p, title="草稿")
    assert (await client.get(f"{API}/offerings/{draft['id']}/calendar.ics")).status_code == 404


async def test_schedules_are_listed_and_ended_only_by_the_partner(client, canteen):
    setup, p, o = canteen
    waiter = await partner_staff(client, p)
    other = await community_with_staff(client, "海甸社区")
    rival = await approved_partner(client, setup, name="邻家食堂")
    r = await client.post(
        f"{API}/offerings/{o['id']}/schedules",
        json={"weekdays": [2], "start_time": "11:30", "end_time": "12:30", "capacity": 9, "valid_from": "2026-01-01"},
        headers=p.headers,
    )
    sid = r.json()["id"]
    listed = await client.get(f"{API}/offerings/{o['id']}/schedules", headers=waiter.headers)
    assert [s["id"] for s in listed.json()] == [sid]
    for person in [rival.admin, other.staff, await sign_up(client, "路人")]:
        assert (await client.get(f"{API}/offerings/{o['id']}/schedules", headers=person.headers)).status_code == 403
    for person in [waiter, rival.admin, other.staff, setup.staff]:
        assert (await client.post(f"{API}/schedules/{sid}/end", headers=person.headers)).status_code in (403, 404)
    assert (await client.post(f"{API}/schedules/{uuid4()}/end", headers=p.headers)).status_code == 404
    assert await db.fetchval("SELECT status FROM schedules") == "active"
    assert (await client.post(f"{API}/schedules/{sid}/end", headers=p.headers)).status_code == 200
    again = await client.post(f"{API}/schedules/{sid}/end", headers=p.headers)
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
