"""On-demand orders (易生活助手): dispatch, accept, arrive, complete; escalation once; the SLA report."""

from __future__ import annotations

import asyncio
import functools
import json
import operator
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

from linli import db
from marketplace.tasks import escalate_orders, notify_order
from tests.api import community_with_staff
from tests.marketplace_api import assert_problem, count, resident, topics
from tests.partners_api import approved_partner, partner_staff, published_offering


async def helper_service(client, setup=None, **overrides):
    setup = setup or await community_with_staff(client)
    p = await approved_partner(client, setup, name="易生活助手", kind="housekeeping")
    staff = await partner_staff(client, p)
    body = {"title": "上门助浴", "category": "housekeeping", "price_fen": 3000, "on_demand": True, **overrides}
    o = await published_offering(client, p, **body)
    return setup, p, staff, o


async def place(client, person, offering, **extra):
    return await client.post(
        "/api/v1/orders",
        json={"offering_id": offering, "address": "光阳小区3栋502", "note": "老人行动不便", **extra},
        headers=person.headers,
    )


async def deliver(topic: str) -> None:
    """Feed the outbox events of `topic` to the notification actor, as the relay would."""
    for e in await db.fetch("SELECT id, payload FROM outbox_events WHERE topic = $1", topic):
        await notify_order(str(e["id"]), json.loads(e["payload"]))


async def test_order_is_dispatched_accepted_arrives_and_completes(client):
    setup, _p, staff, o = await helper_service(client, subsidies={"elderly": 1000})
    grandma = await resident(client, setup, "陈阿婆", groups=["elderly"])
    r = await place(client, grandma, o["id"])
    assert r.status_code == 201, r.text
    order = r.json()
    assert (order["kind"], order["status"], order["slot_id"]) == ("order", "confirmed", None)
    assert (order["price_fen"], order["subsidy_fen"], order["payable_fen"]) == (3000, 2000, 1000)
    assert order["accept_target_seconds"] == 60 and order["dispatch_round"] == 1
    assert "order.dispatched" in await topics()
    await deliver("order.dispatched")
    inbox = await client.get("/api/v1/me/notifications", headers=staff.headers)
    assert [n["kind"] for n in inbox.json()["items"]] == ["order.dispatched"]

    url = f"/api/v1/orders/{order['id']}"
    assert_problem(await client.post(url + "/arrive", headers=staff.headers), 409, "invalid_transition")
    assert_problem(await client.post(url + "/complete", headers=staff.headers), 409, "invalid_transition")
    assert_problem(await client.post(url + "/accept", headers=grandma.headers), 403, "forbidden")
    accepted = await client.post(url + "/accept", headers=staff.headers)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert_problem(await client.post(url + "/accept", headers=staff.headers), 409, "invalid_transition")
    arrived = await client.post(url + "/arrive", headers=staff.headers)
    assert arrived.status_code == 200 and arrived.json()["arrived_at"] is not None
    assert_problem(await client.post(url + "/arrive", headers=staff.headers), 409, "invalid_transition")
    done = await client.post(url + "/complete", headers=staff.headers)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert (await client.get(url, headers=grandma.headers)).json()["status"] == "completed"


async def test_unaccepted_order_is_escalated_once_and_community_staff_alerted(client):
    setup, _p, staff, o = await helper_service(client)
    a = await resident(client, setup)
    order = (await place(client, a, o["id"])).json()
    fresh = (await place(client, a, o["id"])).json()
    # The first order was dispatched two minutes ago and nobody took it.
    await db.execute(
        "UPDATE order_dispatches SET dispatched_at = now() - interval '2 minutes' WHERE booking_id = $1",
        UUID(order["id"]),
    )
    # Several workers / ticks racing: one escalation.
    results = await asyncio.gather(*(escalate_orders(f"tick-{i}") for i in range(4)))
    assert sorted(functools.reduce(operator.iadd, results, [])) == [order["id"]]
    assert await escalate_orders("later") == []
    assert (await topics()).count("order.escalated") == 1
    got = (await client.get(f"/api/v1/orders/{order['id']}", headers=a.headers)).json()
    assert got["dispatch_round"] == 2 and got["escalated_at"] is not None
    assert (await client.get(f"/api/v1/orders/{fresh['id']}", headers=a.headers)).json()["escalated_at"] is None

    await deliver("order.escalated")
    await deliver("order.escalated")  # redelivery notifies nobody twice
    staff_inbox = (await client.get("/api/v1/me/notifications", headers=staff.headers)).json()["items"]
    assert [n["kind"] for n in staff_inbox].count("order.redispatched") == 1
    community_inbox = (await client.get("/api/v1/me/notifications", headers=setup.staff.headers)).json()["items"]
    assert [n["kind"] for n in community_inbox] == ["order.escalated"]
    # Accepted orders are never escalated.
    await client.post(f"/api/v1/orders/{fresh['id']}/accept", headers=staff.headers)
    await db.execute("UPDATE order_dispatches SET dispatched_at = now() - interval '1 hour'")
    assert await escalate_orders("much-later") == []


async def test_escalation_schedule_is_registered():
    from workers.schedules import SCHEDULES

    assert any(s.actor_name == "marketplace.escalate_orders" for s in SCHEDULES)


async def test_sla_report_for_partner_and_community(client):
    setup, p, staff, o = await helper_service(client)
    a = await resident(client, setup)
    ids = [(await place(client, a, o["id"])).json()["id"] for _ in range(4)]
    base = datetime.now(UTC) - timedelta(hours=1)
    # accept after 30 s / 30 s / 5 min / never; arrive after 8 min / 20 min / never / never.
    timings = [(30, 480), (30, 1200), (300, None), (None, None)]
    for oid, (acc, arr) in zip(ids, timings, strict=True):
        await db.execute("UPDATE order_dispatches SET dispatched_at = $2 WHERE booking_id = $1", UUID(oid), base)
        if acc is not None:
            await db.execute(
                "UPDATE bookings SET status = 'accepted', accepted_at = $2 WHERE id = $1",
                UUID(oid),
                base + timedelta(seconds=acc),
            )
        if arr is not None:
            await db.execute(
                "UPDATE order_dispatches SET arrived_at = $2 WHERE booking_id = $1",
                UUID(oid),
                base + timedelta(seconds=arr),
            )
    period = base.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    r = await client.get(f"/api/v1/partners/{p.id}/reports/sla", params={"period": period}, headers=staff.headers)
    assert r.status_code == 200, r.text
    t = r.json()["total"]
    assert (t["orders"], t["accepted_in_time"], t["arrived_in_time"]) == (4, 2, 1)
    assert (t["accepted_in_time_bp"], t["arrived_in_time_bp"]) == (5000, 2500)
    assert t["median_accept_minutes"] == 0.5  # of 0.5, 0.5, 5
    assert t["median_arrive_minutes"] == 14.0  # of 8 and 20
    c = await client.get(
        f"/api/v1/communities/{setup.id}/reports/sla", params={"period": period}, headers=setup.staff.headers
    )
    assert c.status_code == 200
    assert [x["partner_id"] for x in c.json()["partners"]] == [p.id]
    assert c.json()["total"]["orders"] == 4
    empty = await client.get(
        f"/api/v1/partners/{p.id}/reports/sla", params={"period": "2001-01"}, headers=staff.headers
    )
    assert empty.json()["total"]["orders"] == 0
    # Only those who may see the figures.
    other = await community_with_staff(client, "别的社区")
    assert_problem(await client.get(f"/api/v1/communities/{setup.id}/reports/sla", headers=other.staff.headers), 403)
    assert_problem(await client.get(f"/api/v1/communities/{setup.id}/reports/sla", headers=a.headers), 403)
    assert (await client.get(f"/api/v1/partners/{p.id}/reports/sla", headers=a.headers)).status_code in (403, 404)
    for bad in ("2026-13", "26-01", "x" * 300):
        r = await client.get(f"/api/v1/partners/{p.id}/reports/sla", params={"period": bad}, headers=staff.headers)
        assert_problem(r, 422)


async def test_orders_refuse_slot_offerings_and_bad_input(client):
    setup, p, _staff, o = await helper_service(client)
    a = await resident(client, setup)
    meal = await published_offering(client, p, title="午餐", category="meal", price_fen=1500)
    assert_problem(await place(client, a, meal["id"]), 409, "offering_not_bookable")
    assert_problem(await place(client, a, str(uuid.uuid4())), 404, "offering_not_found")
    for extra in (
        {"address": ""},
        {"address": "   "},
        {"address": "长" * 201},
        {"note": "长" * 501},
        {"offering_id": "nope"},
    ):
        assert_problem(await place(client, a, o["id"], **extra), 422)
    assert await count("bookings") == 0 and await count("order_dispatches") == 0


async def test_order_access_matrix(client):
    setup, _p, staff, o = await helper_service(client)
    a = await resident(client, setup, "下单人")
    order = (await place(client, a, o["id"])).json()
    neighbour = await resident(client, setup, "邻居")
    _, _, other_staff, _ = await helper_service(client)  # another community's partner
    _, _, same_community_other_partner_staff, _ = await helper_service(client, setup=setup)
    other_community = await community_with_staff(client, "别的社区")
    url = f"/api/v1/orders/{order['id']}"
    for who in (neighbour, other_staff, same_community_other_partner_staff, other_community.staff):
        assert_problem(await client.get(url, headers=who.headers), 404, "order_not_found")
        for action in ("accept", "arrive", "complete", "cancel"):
            r = await client.post(f"{url}/{action}", json={"reason": "x"}, headers=who.headers)
            assert_problem(r, 404, "order_not_found")
    assert (await client.get(url, headers=a.headers)).json()["status"] == "confirmed"
    # The resident may cancel their own order before it is done.
    r = await client.post(f"{url}/cancel", headers=a.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert_problem(await client.post(f"{url}/accept", headers=staff.headers), 409, "invalid_transition")


async def test_idempotent_order_placement(client):
    setup, _p, _staff, o = await helper_service(client)
    a = await resident(client, setup)
    h = {**a.headers, "Idempotency-Key": "call-button-1"}
    body = {"offering_id": o["id"], "address": "3栋502"}
    r1 = await client.post("/api/v1/orders", json=body, headers=h)
    r2 = await client.post("/api/v1/orders", json=body, headers=h)
    assert r1.status_code == r2.status_code == 201 and r1.json()["id"] == r2.json()["id"]
    assert await count("order_dispatches") == 1
