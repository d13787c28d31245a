"""Residents book meals and services: prices, limits, 代办, the lifecycle, access and bad input."""

from __future__ import annotations

import uuid
from datetime import timedelta
from uuid import UUID

from linli import db
from marketplace.pricing import quote
from tests.api import community_with_staff, sign_up
from tests.marketplace_api import (
    active_quantity,
    assert_problem,
    book,
    booked_places,
    canteen,
    count,
    resident,
    topics,
)
from tests.partners_api import local, partner_staff, published_offering, slot

# --- pricing ----------------------------------------------------------------------------------------------


def test_best_price_wins_and_money_adds_up():
    q = quote(
        list_price_fen=1500,
        subsidies={"elderly": 1000, "elderly_alone": 500, "veteran": 2000},
        groups=["elderly", "elderly_alone", "veteran"],
        quantity=2,
        daily_limit=None,
        subsidised_already=0,
    )
    assert (q.unit_price_fen, q.price_fen, q.subsidy_fen, q.payable_fen) == (500, 3000, 2000, 1000)
    assert q.priority_group == "elderly_alone"


def test_daily_limit_caps_only_the_subsidised_units():
    q = quote(
        list_price_fen=1500,
        subsidies={"elderly": 500},
        groups=["elderly"],
        quantity=3,
        daily_limit=1,
        subsidised_already=0,
    )
    assert (q.subsidised_quantity, q.price_fen, q.subsidy_fen, q.payable_fen) == (1, 4500, 1000, 3500)
    used_up = quote(
        list_price_fen=1500,
        subsidies={"elderly": 500},
        groups=["elderly"],
        quantity=1,
        daily_limit=1,
        subsidised_already=1,
    )
    assert (used_up.subsidy_fen, used_up.payable_fen, used_up.priority_group) == (0, 1500, None)


def test_no_group_pays_list_price():
    q = quote(
        list_price_fen=1500, subsidies={"elderly": 500}, groups=[], quantity=1, daily_limit=1, subsidised_already=0
    )
    assert (q.unit_price_fen, q.subsidy_fen, q.payable_fen) == (1500, 0, 1500)


# --- booking ----------------------------------------------------------------------------------------------


async def test_elderly_resident_gets_subsidised_meal_and_snapshot_survives_price_change(client):
    c = await canteen(client, price_fen=1500, subsidies={"elderly_alone": 500, "elderly": 1000})
    grandma = await resident(client, c.setup, "独居的陈阿婆", groups=["elderly_alone", "elderly"])
    r = await book(client, grandma, c.slot_id)
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["status"] == "confirmed"
    assert (b["price_fen"], b["subsidy_fen"], b["payable_fen"], b["unit_price_fen"]) == (1500, 1000, 500, 500)
    assert b["priority_group"] == "elderly_alone"
    assert await booked_places(c.slot_id) == 1

    # The partner raises the price and cuts the subsidy; the booking keeps what was agreed.
    r = await client.patch(
        f"/api/v1/offerings/{c.offering['id']}",
        json={"price_fen": 2000, "subsidies": {"elderly_alone": 1500}},
        headers=c.partner.headers,
    )
    assert r.status_code == 200, r.text
    again = await client.get(f"/api/v1/bookings/{b['id']}", headers=grandma.headers)
    assert again.status_code == 200
    assert (again.json()["price_fen"], again.json()["subsidy_fen"], again.json()["payable_fen"]) == (1500, 1000, 500)
    assert "booking.confirmed" in await topics()


async def test_resident_without_priority_group_pays_list_price(client):
    c = await canteen(client, price_fen=1500)
    neighbour = await resident(client, c.setup, "小王")
    r = await book(client, neighbour, c.slot_id, quantity=2)
    assert r.status_code == 201, r.text
    assert (r.json()["price_fen"], r.json()["subsidy_fen"], r.json()["payable_fen"]) == (3000, 0, 3000)


async def test_one_subsidised_meal_a_day_then_list_price(client):
    c = await canteen(client, price_fen=1500, subsidies={"elderly": 500}, per_resident_daily_limit=1)
    grandpa = await resident(client, c.setup, "王大爷", groups=["elderly"])
    first = await book(client, grandpa, c.slot_id)
    assert first.json()["payable_fen"] == 500
    second = await book(client, grandpa, c.slot_id)
    assert second.status_code == 201
    assert (second.json()["subsidy_fen"], second.json()["payable_fen"]) == (0, 1500)
    # Another day's slot has its own allowance.
    other_day = await slot(client, c.partner, c.offering["id"], starts_at=local(days=2), capacity=5)
    third = await book(client, grandpa, other_day["id"])
    assert third.json()["payable_fen"] == 500
    # Cancelling the subsidised meal gives the allowance back for that day.
    r = await client.post(f"/api/v1/bookings/{first.json()['id']}/cancel", headers=grandpa.headers)
    assert r.status_code == 200, r.text
    fourth = await book(client, grandpa, c.slot_id)
    assert fourth.json()["payable_fen"] == 500


async def test_full_slot_is_409_slot_full_and_nothing_written(client):
    c = await canteen(client, capacity=2)
    a = await resident(client, c.setup, "甲")
    b = await resident(client, c.setup, "乙")
    assert (await book(client, a, c.slot_id, quantity=2)).status_code == 201
    before = await count("bookings")
    r = await book(client, b, c.slot_id)
    assert_problem(r, 409, "slot_full")
    assert await count("bookings") == before
    assert await booked_places(c.slot_id) == 2
    en = await client.post(
        "/api/v1/bookings", json={"slot_id": c.slot_id}, headers={**b.headers, "Accept-Language": "en"}
    )
    assert en.json()["title"] == "This slot is full"


async def test_idempotency_key_replays_and_refuses_a_different_body(client):
    c = await canteen(client, capacity=5)
    a = await resident(client, c.setup)
    h = {**a.headers, "Idempotency-Key": "lunch-order-1"}
    first = await client.post("/api/v1/bookings", json={"slot_id": c.slot_id, "quantity": 1}, headers=h)
    again = await client.post("/api/v1/bookings", json={"slot_id": c.slot_id, "quantity": 1}, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await count("bookings") == 1
    other = await client.post("/api/v1/bookings", json={"slot_id": c.slot_id, "quantity": 2}, headers=h)
    assert_problem(other, 422, "idempotency_key_reused")
    assert await booked_places(c.slot_id) == 1


async def test_booking_rules(client):
    c = await canteen(client, capacity=3, min_notice_minutes=24 * 60 * 3)
    a = await resident(client, c.setup)
    # Within the minimum notice (the slot is tomorrow, notice is three days).
    assert_problem(await book(client, a, c.slot_id), 409, "slot_not_bookable")
    c2 = await canteen(client, capacity=3)
    assert_problem(await book(client, a, c2.slot_id, quantity=4), 422, "quantity_exceeds_capacity")
    # A paused offering sells nothing.
    r = await client.post(f"/api/v1/offerings/{c2.offering['id']}/pause", headers=c2.partner.headers)
    assert r.status_code == 200, r.text
    assert_problem(await book(client, a, c2.slot_id), 409, "offering_not_bookable")
    assert await count("bookings") == 0
    assert await booked_places(c2.slot_id) == 0


async def test_suspended_partner_cannot_sell(client):
    c = await canteen(client)
    a = await resident(client, c.setup)
    r = await client.post(
        f"/api/v1/partners/{c.partner.id}/suspend", json={"reason": "卫生检查未通过"}, headers=c.setup.staff.headers
    )
    assert r.status_code == 200, r.text
    assert_problem(await book(client, a, c.slot_id), 409, "partner_not_selling")


async def test_slot_in_the_past_cannot_be_booked(client):
    c = await canteen(client)
    a = await resident(client, c.setup)
    await db.execute(
        "UPDATE slots SET starts_at = now() - interval '2 hours', ends_at = now() - interval '1 hour' WHERE id = $1",
        UUID(c.slot_id),
    )
    assert_problem(await book(client, a, c.slot_id), 409, "slot_not_bookable")


async def test_staff_books_on_behalf_of_a_resident_and_it_is_audited(client):
    c = await canteen(client, price_fen=1500, subsidies={"disabled": 300})
    resident_ = await resident(client, c.setup, "行动不便的刘叔", groups=["disabled"])
    r = await book(client, c.setup.staff, c.slot_id, resident_id=resident_.id)
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["resident_id"] == resident_.id and b["booked_by"] == c.setup.staff.id
    assert b["payable_fen"] == 300  # priced for the resident, not for the staff member
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'booking.booked_on_behalf' AND object_id = $1",
        UUID(b["id"]),
    )
    assert audited == 1
    mine = await client.get("/api/v1/me/bookings", headers=resident_.headers)
    assert [x["id"] for x in mine.json()["items"]] == [b["id"]]


async def test_only_staff_or_grid_worker_may_book_for_someone_else(client):
    c = await canteen(client)
    a = await resident(client, c.setup, "甲")
    b = await resident(client, c.setup, "乙")
    assert_problem(await book(client, a, c.slot_id, resident_id=b.id), 403, "forbidden")
    # Staff of another community may not book for this community's residents.
    other = await community_with_staff(client, "另一个社区")
    assert_problem(await book(client, other.staff, c.slot_id, resident_id=b.id), 403, "forbidden")
    # Staff cannot book for someone who is not a resident here.
    stranger = await sign_up(client, "外人")
    assert_problem(await book(client, c.setup.staff, c.slot_id, resident_id=stranger.id), 404, "resident_not_found")
    assert await count("bookings") == 0


async def test_grid_worker_books_for_a_resident_of_their_grid(client):
    c = await canteen(client)
    worker = await sign_up(client, "网格员老周")
    from tests.api import grant

    await grant(client, c.setup.admin, c.setup.id, worker, "staff")
    g = await client.post(
        f"/api/v1/communities/{c.setup.id}/grids",
        json={"name": "一网格", "worker_user_id": worker.id},
        headers=c.setup.admin.headers,
    )
    assert g.status_code == 201, g.text
    r0 = await resident(client, c.setup, "独居老人")
    r = await client.put(
        f"/api/v1/communities/{c.setup.id}/residents/{r0.id}/grid",
        json={"grid_id": g.json()["id"]},
        headers=c.setup.staff.headers,
    )
    assert r.status_code == 200, r.text
    r = await book(client, worker, c.slot_id, resident_id=r0.id)
    assert r.status_code == 201, r.text


async def _caller(person):
    from linli.auth.security import load_user

    return await load_user(UUID(person.id))


async def test_the_residents_staff_are_offered_for_daiban_are_exactly_those_they_may_book_for(client):
    from marketplace.services import access

    c = await canteen(client)
    member = await resident(client, c.setup, "独居老人")
    # Enrolled by staff with a priority group only (a resident record, no resident role): still a resident.
    enrolled = await sign_up(client, "隔壁大爷")
    r = await client.put(
        f"/api/v1/communities/{c.setup.id}/residents/{enrolled.id}/priority-groups",
        json={"groups": ["elderly"]},
        headers=c.setup.staff.headers,
    )
    assert r.status_code == 200, r.text
    stranger = await sign_up(client, "外人")

    async with db.unit_of_work():
        offered = await access.proxy_residents(actor=await _caller(c.setup.staff), community_id=UUID(c.setup.id))
        for_a_resident = await access.proxy_residents(actor=await _caller(member), community_id=UUID(c.setup.id))
    assert {str(user_id) for user_id, _ in offered} == {member.id, enrolled.id}
    assert for_a_resident == []
    for person in (member, enrolled):
        assert (await book(client, c.setup.staff, c.slot_id, resident_id=person.id)).status_code == 201
    assert_problem(await book(client, c.setup.staff, c.slot_id, resident_id=stranger.id), 404, "resident_not_found")


# --- lifecycle --------------------------------------------------------------------------------------------


async def test_lifecycle_confirmed_accepted_completed_with_agreement(client):
    c = await canteen(client, price_fen=1500, subsidies={"elderly": 500})
    r = await client.put(
        f"/api/v1/partners/{c.partner.id}/revenue-share",
        json={"rate_bp": 500, "effective_from": local(days=0).date().isoformat()},
        headers=c.setup.admin.headers,
    )
    assert r.status_code in (200, 201), r.text
    agreement_id = r.json()["id"]
    a = await resident(client, c.setup, groups=["elderly"])
    b = (await book(client, a, c.slot_id)).json()
    url = f"/api/v1/bookings/{b['id']}"
    accepted = await client.post(url + "/accept", headers=c.staff.headers)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    done = await client.post(url + "/complete", headers=c.staff.headers)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "completed"
    assert body["completed_period"] == local(days=0).strftime("%Y-%m")
    assert (body["agreement_id"], body["share_rate_bp"]) == (agreement_id, 500)
    assert body["completed_at"] is not None
    # Completed is final.
    for action in ("accept", "complete", "cancel", "no-show"):
        r = await client.post(f"{url}/{action}", json={"reason": "x"}, headers=c.staff.headers)
        assert_problem(r, 409, "invalid_transition")
    assert {"booking.accepted", "booking.completed"} <= set(await topics())

    from marketplace.services.revenue import completed_in_period

    rows = await completed_in_period(community_id=UUID(c.setup.id), period=body["completed_period"])
    assert [(str(x.booking_id), x.gross_fen, x.subsidy_fen, x.share_rate_bp) for x in rows] == [
        (b["id"], 1500, 1000, 500)
    ]


async def test_resident_cancels_before_cutoff_and_the_place_is_freed(client):
    c = await canteen(client, capacity=1, cancel_cutoff_minutes=60)
    a = await resident(client, c.setup)
    b = (await book(client, a, c.slot_id)).json()
    r = await client.post(f"/api/v1/bookings/{b['id']}/cancel", headers=a.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert await booked_places(c.slot_id) == 0
    assert_problem(
        await client.post(f"/api/v1/bookings/{b['id']}/cancel", headers=a.headers), 409, "invalid_transition"
    )


async def test_resident_cannot_cancel_after_cutoff_but_partner_can_with_reason(client):
    c = await canteen(client, capacity=2, cancel_cutoff_minutes=48 * 60)
    a = await resident(client, c.setup)
    b = (await book(client, a, c.slot_id)).json()
    url = f"/api/v1/bookings/{b['id']}/cancel"
    assert_problem(await client.post(url, headers=a.headers), 409, "cancel_cutoff_passed")
    assert_problem(await client.post(url, headers=c.staff.headers), 422, "reason_required")
    r = await client.post(url, json={"reason": "食材短缺"}, headers=c.staff.headers)
    assert r.status_code == 200, r.text
    assert r.json()["cancel_reason"] == "食材短缺"
    assert await booked_places(c.slot_id) == 0 == await active_quantity(c.slot_id)


async def test_no_show_only_after_the_slot_started(client):
    c = await canteen(client, capacity=2)
    a = await resident(client, c.setup)
    b = (await book(client, a, c.slot_id)).json()
    url = f"/api/v1/bookings/{b['id']}/no-show"
    assert_problem(await client.post(url, headers=c.staff.headers), 409, "slot_not_started")
    await db.execute(
        "UPDATE slots SET starts_at = now() - interval '10 minutes', ends_at = now() + interval '1 hour' WHERE id = $1",
        UUID(c.slot_id),
    )
    assert_problem(await client.post(url, headers=a.headers), 403, "forbidden")
    r = await client.post(url, headers=c.staff.headers)
    assert r.status_code == 200 and r.json()["status"] == "no_show"
    assert_problem(
        await client.post(f"/api/v1/bookings/{b['id']}/complete", headers=c.staff.headers), 409, "invalid_transition"
    )


async def test_resident_cannot_accept_or_complete_their_own_booking(client):
    c = await canteen(client)
    a = await resident(client, c.setup)
    b = (await book(client, a, c.slot_id)).json()
    for action in ("accept", "complete", "no-show"):
        assert_problem(await client.post(f"/api/v1/bookings/{b['id']}/{action}", headers=a.headers), 403)


# --- access ----------------------------------------------------------------------------------------------


async def test_access_matrix_for_bookings(client):
    c = await canteen(client)
    owner = await resident(client, c.setup, "本人")
    b = (await book(client, owner, c.slot_id)).json()
    other_resident = await resident(client, c.setup, "邻居")
    other = await canteen(client, name="别的社区")
    other_partner_staff = other.staff
    # Another partner in the SAME community: its staff still may not touch this partner's bookings.
    same_community_partner = await canteen(client, setup=c.setup)
    outsiders = [other_resident, other_partner_staff, other.setup.staff, same_community_partner.staff]
    url = f"/api/v1/bookings/{b['id']}"
    for who in outsiders:
        assert_problem(await client.get(url, headers=who.headers), 404, "booking_not_found")
        for action in ("accept", "complete", "no-show", "cancel"):
            r = await client.post(f"{url}/{action}", json={"reason": "想取消"}, headers=who.headers)
            assert_problem(r, 404, "booking_not_found")
        r = await client.get(f"/api/v1/partners/{c.partner.id}/bookings", headers=who.headers)
        assert r.status_code in (403, 404), r.text
        r = await client.post(f"{url}/review", json={"rating": 5}, headers=who.headers)
        assert r.status_code == 404
    assert (await client.get(url)).status_code == 401
    # Those who may: the resident, the partner's staff, the community's staff.
    for who in (owner, c.staff, c.partner.admin, c.setup.staff):
        assert (await client.get(url, headers=who.headers)).status_code == 200
    listed = await client.get(f"/api/v1/partners/{c.partner.id}/bookings", headers=c.staff.headers)
    assert [x["id"] for x in listed.json()["items"]] == [b["id"]]
    assert (await client.get("/api/v1/me/bookings", headers=other_resident.headers)).json()["items"] == []
    r = await client.get(f"/api/v1/bookings/{b['id']}", headers=owner.headers)
    assert r.json()["status"] == "confirmed"  # nothing the outsiders did changed it


# --- bad input -------------------------------------------------------------------------------------------


async def test_bad_booking_input_is_problem_json_and_writes_nothing(client):
    c = await canteen(client, capacity=5)
    a = await resident(client, c.setup)
    bad_bodies = [
        {"slot_id": c.slot_id, "quantity": 0},
        {"slot_id": c.slot_id, "quantity": -1},
        {"slot_id": c.slot_id, "quantity": 10**12},
        {"slot_id": c.slot_id, "quantity": "two"},
        {"slot_id": "not-a-uuid", "quantity": 1},
        {"quantity": 1},
        {"slot_id": c.slot_id, "quantity": 1, "resident_id": "x" * 5000},
    ]
    for body in bad_bodies:
        r = await client.post("/api/v1/bookings", json=body, headers=a.headers)
        assert_problem(r, 422)
    r = await client.post(
        "/api/v1/bookings", content=b"{not json", headers={**a.headers, "Content-Type": "application/json"}
    )
    assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("application/problem+json")
    assert_problem(await book(client, a, str(uuid.uuid4())), 404, "slot_not_found")
    r = await client.post(
        "/api/v1/bookings", json={"slot_id": c.slot_id}, headers={**a.headers, "Idempotency-Key": "k" * 500}
    )
    assert_problem(r, 422)
    for path in ("/api/v1/bookings/not-a-uuid", f"/api/v1/bookings/{uuid.uuid4()}"):
        r = await client.get(path, headers=a.headers)
        assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(f"/api/v1/bookings/{uuid.uuid4()}/cancel", headers=a.headers)
    assert_problem(r, 404, "booking_not_found")
    assert await count("bookings") == 0 and await booked_places(c.slot_id) == 0


async def test_over_long_cancel_reason_is_refused(client):
    c = await canteen(client)
    a = await resident(client, c.setup)
    b = (await book(client, a, c.slot_id)).json()
    r = await client.post(f"/api/v1/bookings/{b['id']}/cancel", json={"reason": "长" * 501}, headers=a.headers)
    assert_problem(r, 422)
    assert (await client.get(f"/api/v1/bookings/{b['id']}", headers=a.headers)).json()["status"] == "confirmed"


async def test_partner_bookings_list_filters(client):
    c = await canteen(client, capacity=5)
    a = await resident(client, c.setup)
    s2 = await slot(client, c.partner, c.offering["id"], starts_at=local(days=3), capacity=5)
    b1 = (await book(client, a, c.slot_id)).json()
    b2 = (await book(client, a, s2["id"])).json()
    await client.post(f"/api/v1/bookings/{b2['id']}/cancel", headers=a.headers)
    url = f"/api/v1/partners/{c.partner.id}/bookings"
    r = await client.get(url, params={"status": "confirmed"}, headers=c.setup.staff.headers)
    assert [x["id"] for x in r.json()["items"]] == [b1["id"]]
    r = await client.get(url, params={"slot_id": s2["id"]}, headers=c.staff.headers)
    assert [x["id"] for x in r.json()["items"]] == [b2["id"]]
    assert_problem(await client.get(url, params={"status": "bogus"}, headers=c.staff.headers), 422)
    _ = published_offering, partner_staff, timedelta  # helpers re-exported for other stories


async def test_cancelled_slot_cancels_its_bookings_and_tells_the_residents(client):
    import json

    from marketplace.tasks import notify_booking, on_slot_cancelled

    c = await canteen(client, capacity=1)
    a = await resident(client, c.setup, "甲")
    waiting = await resident(client, c.setup, "乙")
    b = (await book(client, a, c.slot_id)).json()
    r = await client.post(f"/api/v1/slots/{c.slot_id}/waitlist", json={"quantity": 1}, headers=waiting.headers)
    assert r.status_code == 201
    r = await client.post(f"/api/v1/slots/{c.slot_id}/cancel", json={"reason": "厨房检修"}, headers=c.partner.headers)
    assert r.status_code == 200, r.text
    event = await db.fetchrow("SELECT id, payload FROM outbox_events WHERE topic = 'slot.cancelled'")
    assert event is not None
    for _ in range(2):  # delivered twice: the same single effect
        await on_slot_cancelled(str(event["id"]), json.loads(event["payload"]))
    got = (await client.get(f"/api/v1/bookings/{b['id']}", headers=a.headers)).json()
    assert got["status"] == "cancelled" and got["cancel_reason"] == "厨房检修"
    assert await booked_places(c.slot_id) == 0 == await active_quantity(c.slot_id)
    entry = (await client.get(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=waiting.headers)).json()
    assert entry["status"] == "cancelled"
    cancelled = await db.fetch("SELECT id, payload FROM outbox_events WHERE topic = 'booking.cancelled'")
    assert len(cancelled) == 1
    await notify_booking(str(cancelled[0]["id"]), json.loads(cancelled[0]["payload"]))
    inbox = (await client.get("/api/v1/me/notifications", headers=a.headers)).json()["items"]
    assert [n["kind"] for n in inbox] == ["booking.cancelled"]


async def test_confirmation_reaches_the_inbox_through_outbox_and_a_real_worker(client, start_worker):
    from tests.conftest import eventually

    c = await canteen(client)
    a = await resident(client, c.setup)
    start_worker()
    assert (await book(client, a, c.slot_id)).status_code == 201

    async def confirmed() -> bool:
        inbox = (await client.get("/api/v1/me/notifications", headers=a.headers)).json()["items"]
        return [n["kind"] for n in inbox].count("booking.confirmed") == 1

    assert await eventually(confirmed)


async def test_unknown_and_malformed_ids_on_every_marketplace_endpoint(client):
    c = await canteen(client)
    a = await resident(client, c.setup)
    unknown = str(uuid.uuid4())
    posts = (
        [
            f"/api/v1/bookings/{{id}}/{action}"
            for action in ("confirm", "accept", "complete", "cancel", "no-show", "review")
        ]
        + [f"/api/v1/orders/{{id}}/{action}" for action in ("accept", "arrive", "complete", "cancel")]
        + [
            "/api/v1/complaints/{id}/handle",
            "/api/v1/complaints/{id}/resolve",
            "/api/v1/slots/{id}/waitlist",
        ]
    )
    gets = [
        "/api/v1/bookings/{id}",
        "/api/v1/bookings/{id}/review",
        "/api/v1/orders/{id}",
        "/api/v1/complaints/{id}",
        "/api/v1/slots/{id}/waitlist",
        "/api/v1/slots/{id}/waitlist/me",
        "/api/v1/partners/{id}/bookings",
        "/api/v1/partners/{id}/complaints",
        "/api/v1/partners/{id}/reports/sla",
        "/api/v1/partners/{id}/reports/service-quality",
        "/api/v1/communities/{id}/reports/sla",
        "/api/v1/communities/{id}/reports/service-quality",
    ]
    body = {"rating": 5, "note": "已处理", "satisfaction": "satisfied", "quantity": 1, "reason": "x"}
    for ident, expected in ((unknown, {404}), ("not-a-uuid", {400, 404, 422}), ("1" * 300, {400, 404, 422})):
        for path in posts:
            r = await client.post(path.format(id=ident), json=body, headers=a.headers)
            assert r.status_code in expected, (path, ident, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        for path in gets:
            r = await client.get(path.format(id=ident), headers=a.headers)
            assert r.status_code in expected, (path, ident, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        r = await client.delete(f"/api/v1/slots/{ident}/waitlist/me", headers=a.headers)
        assert r.status_code in expected
    assert await count("bookings") == await count("complaints") == await count("waitlist_entries") == 0
