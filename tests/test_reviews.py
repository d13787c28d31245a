"""Residents rate completed services and complain; partners and communities see 办结率 and 满意率."""

from __future__ import annotations

import json
import uuid

from linli import db
from marketplace.tasks import notify_complaint
from tests.api import community_with_staff
from tests.marketplace_api import assert_problem, book, canteen, count, resident


async def completed_booking(client, c, person):
    b = (await book(client, person, c.slot_id)).json()
    r = await client.post(f"/api/v1/bookings/{b['id']}/complete", headers=c.staff.headers)
    assert r.status_code == 200, r.text
    return b


async def test_one_review_per_completed_booking_by_its_resident(client):
    c = await canteen(client)
    a = await resident(client, c.setup)
    pending = (await book(client, a, c.slot_id)).json()
    assert_problem(
        await client.post(f"/api/v1/bookings/{pending['id']}/review", json={"rating": 5}, headers=a.headers),
        409,
        "booking_not_completed",
    )
    b = await completed_booking(client, c, a)
    url = f"/api/v1/bookings/{b['id']}/review"
    for bad in (
        {"rating": 0},
        {"rating": 6},
        {"rating": -1},
        {"rating": "5星"},
        {"rating": 5, "comment": "好" * 501},
        {},
    ):
        assert_problem(await client.post(url, json=bad, headers=a.headers), 422)
    assert_problem(await client.post(url, json={"rating": 5}, headers=c.staff.headers), 403, "forbidden")
    r = await client.post(url, json={"rating": 5, "comment": "饭菜可口,师傅热情"}, headers=a.headers)
    assert r.status_code == 201, r.text
    assert_problem(await client.post(url, json={"rating": 1}, headers=a.headers), 409, "review_exists")
    assert (await client.get(url, headers=c.staff.headers)).json()["rating"] == 5
    listed = await client.get(f"/api/v1/partners/{c.partner.id}/reviews", headers=a.headers)
    assert [x["comment"] for x in listed.json()] == ["饭菜可口,师傅热情"]
    assert await count("booking_reviews") == 1


async def test_complaint_flow_and_rates(client):
    c = await canteen(client, capacity=10)
    a = await resident(client, c.setup, "投诉人")
    b1 = await completed_booking(client, c, a)
    b2 = await completed_booking(client, c, a)
    b3 = await completed_booking(client, c, a)
    ids = []
    for b in (b1, b2, b3):
        r = await client.post(
            "/api/v1/complaints", json={"booking_id": b["id"], "content": "饭菜偏咸"}, headers=a.headers
        )
        assert r.status_code == 201 and r.json()["status"] == "filed"
        ids.append(r.json()["id"])
    # Resolve before handling: not allowed.
    assert_problem(
        await client.post(
            f"/api/v1/complaints/{ids[0]}/resolve", json={"satisfaction": "satisfied"}, headers=a.headers
        ),
        409,
        "invalid_transition",
    )
    # The resident cannot handle their own complaint; partner staff and community staff can.
    assert_problem(
        await client.post(f"/api/v1/complaints/{ids[0]}/handle", json={"note": "好"}, headers=a.headers), 403
    )
    for cid, who in ((ids[0], c.staff), (ids[1], c.setup.staff)):
        r = await client.post(f"/api/v1/complaints/{cid}/handle", json={"note": "已调整口味"}, headers=who.headers)
        assert r.status_code == 200 and r.json()["status"] == "handled", r.text
    assert_problem(
        await client.post(f"/api/v1/complaints/{ids[0]}/handle", json={"note": "再次"}, headers=c.staff.headers),
        409,
        "invalid_transition",
    )
    assert_problem(
        await client.post(
            f"/api/v1/complaints/{ids[0]}/resolve", json={"satisfaction": "satisfied"}, headers=c.staff.headers
        ),
        403,
    )
    r = await client.post(f"/api/v1/complaints/{ids[0]}/resolve", json={"satisfaction": "satisfied"}, headers=a.headers)
    assert r.status_code == 200 and r.json()["satisfaction"] == "satisfied"
    r = await client.post(
        f"/api/v1/complaints/{ids[1]}/resolve", json={"satisfaction": "unsatisfied"}, headers=a.headers
    )
    assert r.status_code == 200
    assert_problem(
        await client.post(f"/api/v1/complaints/{ids[1]}/resolve", json={"satisfaction": "meh"}, headers=a.headers),
        422,
    )
    await client.post(f"/api/v1/bookings/{b1['id']}/review", json={"rating": 4}, headers=a.headers)
    await client.post(f"/api/v1/bookings/{b2['id']}/review", json={"rating": 3}, headers=a.headers)

    r = await client.get(f"/api/v1/partners/{c.partner.id}/reports/service-quality", headers=c.staff.headers)
    assert r.status_code == 200, r.text
    t = r.json()["total"]
    assert (t["complaints"], t["handled"], t["resolved"], t["satisfied"]) == (3, 2, 2, 1)
    assert (t["closure_rate_bp"], t["satisfaction_rate_bp"]) == (6667, 5000)
    assert (t["reviews"], t["average_rating"]) == (2, 3.5)
    r = await client.get(f"/api/v1/communities/{c.setup.id}/reports/service-quality", headers=c.setup.staff.headers)
    assert r.status_code == 200
    assert r.json()["total"]["complaints"] == 3
    assert [p["partner_id"] for p in r.json()["partners"]] == [c.partner.id]

    # Notifications: the partner hears of the complaint, the resident of its handling.
    for e in await db.fetch("SELECT id, payload FROM outbox_events WHERE topic LIKE 'complaint.%'"):
        await notify_complaint(str(e["id"]), json.loads(e["payload"]))
    staff_kinds = [
        n["kind"] for n in (await client.get("/api/v1/me/notifications", headers=c.staff.headers)).json()["items"]
    ]
    assert staff_kinds.count("complaint.filed") == 3
    resident_kinds = [
        n["kind"] for n in (await client.get("/api/v1/me/notifications", headers=a.headers)).json()["items"]
    ]
    assert resident_kinds.count("complaint.handled") == 2


async def test_complaint_access_and_bad_input(client):
    c = await canteen(client)
    a = await resident(client, c.setup, "本人")
    b = await completed_booking(client, c, a)
    neighbour = await resident(client, c.setup, "邻居")
    other = await canteen(client, name="别的社区")
    # Only the booking's resident complains about it.
    r = await client.post("/api/v1/complaints", json={"booking_id": b["id"], "content": "x"}, headers=neighbour.headers)
    assert_problem(r, 404, "booking_not_found")
    for bad in (
        {"booking_id": b["id"], "content": ""},
        {"booking_id": b["id"], "content": "长" * 1001},
        {"booking_id": "nope", "content": "x"},
        {"content": "x"},
    ):
        assert_problem(await client.post("/api/v1/complaints", json=bad, headers=a.headers), 422)
    assert_problem(
        await client.post(
            "/api/v1/complaints", json={"booking_id": str(uuid.uuid4()), "content": "x"}, headers=a.headers
        ),
        404,
    )
    assert await count("complaints") == 0
    cid = (
        await client.post(
            "/api/v1/complaints", json={"booking_id": b["id"], "content": "服务态度差"}, headers=a.headers
        )
    ).json()["id"]
    for who in (neighbour, other.staff, other.setup.staff):
        assert_problem(await client.get(f"/api/v1/complaints/{cid}", headers=who.headers), 404, "complaint_not_found")
        r = await client.post(f"/api/v1/complaints/{cid}/handle", json={"note": "处理"}, headers=who.headers)
        assert_problem(r, 404, "complaint_not_found")
    other_community = await community_with_staff(client, "第三社区")
    r = await client.get(
        f"/api/v1/communities/{c.setup.id}/reports/service-quality", headers=other_community.staff.headers
    )
    assert_problem(r, 403)
    r = await client.get(f"/api/v1/partners/{c.partner.id}/reports/service-quality", headers=other.staff.headers)
    assert r.status_code in (403, 404)
    for who in (a, other.staff, other.setup.staff):
        r = await client.get(f"/api/v1/partners/{c.partner.id}/complaints", headers=who.headers)
        assert r.status_code in (403, 404), r.text
    listed = await client.get(
        f"/api/v1/partners/{c.partner.id}/complaints", params={"status": "filed"}, headers=c.staff.headers
    )
    assert [x["id"] for x in listed.json()] == [cid]
    assert_problem(
        await client.get(
            f"/api/v1/partners/{c.partner.id}/complaints", params={"status": "x"}, headers=c.staff.headers
        ),
        422,
    )
    assert (await client.get(f"/api/v1/complaints/{cid}", headers=a.headers)).json()["status"] == "filed"


async def test_a_retried_complaint_is_filed_once(client):
    c = await canteen(client)
    a = await resident(client, c.setup)
    b = await completed_booking(client, c, a)
    h = {**a.headers, "Idempotency-Key": "complaint-1"}
    body = {"booking_id": b["id"], "content": "送餐迟到"}
    r1 = await client.post("/api/v1/complaints", json=body, headers=h)
    r2 = await client.post("/api/v1/complaints", json=body, headers=h)
    assert r1.status_code == r2.status_code == 201 and r1.json()["id"] == r2.json()["id"]
    assert await count("complaints") == 1


async def test_residents_follow_their_complaints_and_community_staff_see_every_partners(client):
    c = await canteen(client, capacity=10)
    a = await resident(client, c.setup, "老李")
    b = await resident(client, c.setup, "老王")
    # A second partner in the same community, and one in another community.
    neighbour = await canteen(client, capacity=10, setup=c.setup)
    elsewhere = await canteen(client, capacity=10, name="别的社区")
    outsider = await resident(client, elsewhere.setup, "外社区居民")

    async def complain(person, canteen_, text):
        booking = await completed_booking(client, canteen_, person)
        r = await client.post(
            "/api/v1/complaints", json={"booking_id": booking["id"], "content": text}, headers=person.headers
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    salty = await complain(a, c, "饭菜偏咸")
    late = await complain(a, neighbour, "送餐迟到")
    cold = await complain(b, c, "饭菜凉了")
    far = await complain(outsider, elsewhere, "别处的投诉")
    r = await client.post(f"/api/v1/complaints/{salty}/handle", json={"note": "已少放盐"}, headers=c.staff.headers)
    assert r.status_code == 200

    # The resident sees their own complaints only, newest first, with the partner's answer.
    mine = await client.get("/api/v1/me/complaints", headers=a.headers)
    assert mine.status_code == 200, mine.text
    assert [x["id"] for x in mine.json()["items"]] == [late, salty] and mine.json()["total"] == 2
    assert mine.json()["items"][1]["handling_note"] == "已少放盐"
    handled = await client.get("/api/v1/me/complaints?status=handled", headers=a.headers)
    assert [x["id"] for x in handled.json()["items"]] == [salty]

    # Community staff supervise every partner of their community, and can narrow down.
    url = f"/api/v1/communities/{c.setup.id}/complaints"
    r = await client.get(url, headers=c.setup.staff.headers)
    assert r.status_code == 200, r.text
    assert {x["id"] for x in r.json()["items"]} == {salty, late, cold} and r.json()["total"] == 3
    r = await client.get(f"{url}?status=filed", headers=c.setup.staff.headers)
    assert {x["id"] for x in r.json()["items"]} == {late, cold}
    r = await client.get(f"{url}?partner_id={neighbour.partner.id}", headers=c.setup.staff.headers)
    assert [x["id"] for x in r.json()["items"]] == [late]
    r = await client.get(f"{url}?limit=1&offset=1", headers=c.setup.staff.headers)
    assert len(r.json()["items"]) == 1 and r.json()["total"] == 3
    assert far not in {x["id"] for x in (await client.get(url, headers=c.setup.staff.headers)).json()["items"]}

    # Residents, partner staff and another community's staff may not read the community's list.
    for who in (a, c.staff, elsewhere.setup.staff):
        assert_problem(await client.get(url, headers=who.headers), 403)
    assert_problem(await client.get(f"/api/v1/communities/{uuid.uuid4()}/complaints", headers=a.headers), 404)
    for bad in ("status=open", "limit=0", "limit=100000", "offset=-1", "partner_id=nope"):
        assert_problem(await client.get(f"{url}?{bad}", headers=c.setup.staff.headers), 422)
    for bad in ("status=open", "limit=0", "limit=100000", "offset=-1"):
        assert_problem(await client.get(f"/api/v1/me/complaints?{bad}", headers=a.headers), 422)
