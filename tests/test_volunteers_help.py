"""一键呼叫: a resident asks for help; urgent calls go to the nearest volunteers first and escalate to staff."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

from linli import db
from tests.api import community_with_staff, grant, sign_up
from tests.volunteers_api import catalog, volunteer


async def _grid(client, setup, name):
    r = await client.post(f"/api/v1/communities/{setup.id}/grids", json={"name": name}, headers=setup.admin.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _notifications(user_id: str, kind: str) -> int:
    return int(
        await db.fetchval("SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = $2", UUID(user_id), kind)
    )


async def test_urgent_call_goes_to_same_grid_first_passes_on_and_escalates_to_staff(client):
    from volunteers import tasks as actors
    from volunteers.services import offers

    setup = await community_with_staff(client)
    await catalog(client, setup)
    grid_a = await _grid(client, setup, "第一网格")
    grid_b = await _grid(client, setup, "第二网格")
    granny = await sign_up(client, "陈阿婆")
    await grant(client, setup.admin, setup.id, granny, "resident")
    r = await client.put(
        f"/api/v1/communities/{setup.id}/residents/{granny.id}/grid",
        json={"grid_id": grid_a},
        headers=setup.staff.headers,
    )
    assert r.status_code == 200, r.text
    # granny is a volunteer herself: she must never be asked to answer her own call
    await volunteer(client, setup, person=granny, home_grid_id=grid_a)
    near = {(await volunteer(client, setup, f"近{i}", home_grid_id=grid_a))[1]["id"] for i in range(2)}
    far = {(await volunteer(client, setup, f"远{i}", home_grid_id=grid_b))[1]["id"] for i in range(2)}
    r = await client.post(
        "/api/v1/help-requests",
        json={"community_id": setup.id, "title": "家里老人摔倒了", "urgent": True, "duration_minutes": 60},
        headers=granny.headers,
    )
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["kind"] == "help_request" and call["urgent"] and call["grid_id"] == grid_a
    rows = await db.fetch(
        "SELECT volunteer_id, status, expires_at, offered_at FROM volunteer_assignments WHERE task_id = $1",
        UUID(call["id"]),
    )
    offered = {str(r["volunteer_id"]) for r in rows}
    assert len(offered) == 3
    assert near <= offered  # both same-grid volunteers, plus one from further away
    assert len(offered & far) == 1
    assert all(r["expires_at"] - r["offered_at"] == timedelta(minutes=5) for r in rows)
    # nobody answers: the offers expire, the place passes to the last candidate
    now = datetime.now(UTC)
    assert await offers.expire_offers(now=now + timedelta(minutes=6)) == 3
    statuses = await db.fetch(
        "SELECT volunteer_id, status FROM volunteer_assignments WHERE task_id = $1", UUID(call["id"])
    )
    fresh = [str(r["volunteer_id"]) for r in statuses if r["status"] == "offered"]
    assert len(fresh) == 1 and fresh[0] in far
    assert await db.fetchval("SELECT escalated_at FROM volunteer_tasks WHERE id = $1", UUID(call["id"])) is None
    # still nobody: staff are alerted, once
    await offers.expire_offers(now=now + timedelta(minutes=20))
    await offers.expire_offers(now=now + timedelta(minutes=21))
    events = await db.fetch("SELECT id, payload FROM outbox_events WHERE topic = 'volunteers.help_escalated'")
    assert len(events) == 1
    payload = json.loads(events[0]["payload"]) if isinstance(events[0]["payload"], str) else events[0]["payload"]
    await actors.escalate_help(str(events[0]["id"]), payload)
    await actors.escalate_help(str(events[0]["id"]), payload)  # delivered twice: still one alert each
    assert await _notifications(setup.staff.id, "help_escalated") == 1
    assert await _notifications(setup.admin.id, "help_escalated") == 1
    assert await _notifications(granny.id, "help_escalated") == 0


async def test_urgent_call_with_nobody_available_escalates_at_once(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    resident = await sign_up(client, "林阿伯")
    await grant(client, setup.admin, setup.id, resident, "resident")
    r = await client.post(
        "/api/v1/help-requests",
        json={"community_id": setup.id, "title": "停电了", "urgent": True, "skill_code": "appliance_repair"},
        headers=resident.headers,
    )
    assert r.status_code == 201
    assert await db.fetchval("SELECT escalated_at FROM volunteer_tasks WHERE id = $1", UUID(r.json()["id"])) is not None


async def test_help_requests_are_for_residents_of_that_community(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    outsider = await sign_up(client, "外人")
    r = await client.post(
        "/api/v1/help-requests", json={"community_id": setup.id, "title": "帮忙"}, headers=outsider.headers
    )
    assert r.status_code == 403
    resident = await sign_up(client, "居民")
    await grant(client, setup.admin, setup.id, resident, "resident")
    r = await client.post(
        "/api/v1/help-requests",
        json={"community_id": setup.id, "title": "帮忙", "skill_code": "juggling"},
        headers=resident.headers,
    )
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_skill"
    assert await db.fetchval("SELECT count(*) FROM volunteer_tasks") == 0


async def test_a_call_for_a_time_years_away_or_with_unstorable_text_is_refused_and_nobody_is_called(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    await volunteer(client, setup, "何志愿")
    granny = await sign_up(client, "陈阿婆")
    await grant(client, setup.admin, setup.id, granny, "resident")
    calls = [
        ({"starts_at": "9999-12-31T23:30:00+00:00"}, "task_times_invalid"),
        ({"starts_at": "9999-12-31T22:00:00-14:00"}, "task_times_invalid"),
        ({"starts_at": "0001-01-01T00:00:00+14:00"}, "task_times_invalid"),
        ({"starts_at": (datetime.now(UTC) + timedelta(days=400)).isoformat()}, "task_times_invalid"),
        ({"location": "3栋\u0000"}, "validation_error"),
    ]
    for extra, code in calls:
        body = {"community_id": setup.id, "title": "帮忙换灯泡", "urgent": True, **extra}
        r = await client.post("/api/v1/help-requests", json=body, headers=granny.headers)
        assert r.status_code == 422, (extra, r.text)
        assert r.json()["code"] == code
    assert await db.fetchval("SELECT count(*) FROM volunteer_tasks") == 0
    assert await db.fetchval("SELECT count(*) FROM volunteer_assignments") == 0


async def test_offer_notification_reaches_the_volunteer_once(client):
    from volunteers import tasks as actors

    setup = await community_with_staff(client)
    await catalog(client, setup)
    he, _ = await volunteer(client, setup, "何志愿")
    resident = await sign_up(client, "居民")
    await grant(client, setup.admin, setup.id, resident, "resident")
    r = await client.post(
        "/api/v1/help-requests",
        json={"community_id": setup.id, "title": "帮忙取快递", "skill_code": "meal_delivery"},
        headers=resident.headers,
    )
    assert r.status_code == 201
    event = await db.fetchrow("SELECT id, payload FROM outbox_events WHERE topic = 'volunteers.offered'")
    assert event is not None
    payload = json.loads(event["payload"]) if isinstance(event["payload"], str) else event["payload"]
    for _ in range(2):
        await actors.notify_offer(str(event["id"]), payload)
    assert await _notifications(he.id, "volunteer_offer") == 1


async def test_pressing_the_call_button_twice_with_one_key_makes_one_call(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    resident = await sign_up(client, "林阿伯")
    await grant(client, setup.admin, setup.id, resident, "resident")
    headers = {**resident.headers, "Idempotency-Key": "sos-1"}
    body = {"community_id": setup.id, "title": "需要帮忙", "urgent": True}
    first = await client.post("/api/v1/help-requests", json=body, headers=headers)
    again = await client.post("/api/v1/help-requests", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert await db.fetchval("SELECT count(*) FROM volunteer_tasks") == 1
