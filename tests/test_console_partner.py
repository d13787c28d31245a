"""Partner staff at their desk: offerings created and published, on-demand orders with the time left to their
targets, reviews; refusals in the API's words."""

from __future__ import annotations

from typing import Any

from linli import db
from tests.api import community_with_staff
from tests.console_helpers import signed_in
from tests.marketplace_api import resident
from tests.partners_api import approved_partner, partner_staff, published_offering


async def test_staff_create_a_draft_offering_with_bad_then_good_input_and_publish_it(app: Any, client: Any) -> None:
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    staff = await partner_staff(client, p)
    base = f"/partner/{p.id}/offerings"
    async with signed_in(app, staff) as tab:  # staff serve; the partner's admin decides what it sells
        r = await tab.submit(base, base, {"title": "爱心早餐", "category": "meal", "price_yuan": "6.50"})
        assert r.status_code == 403 and "无权进行此操作" in r.text
    async with signed_in(app, p.admin) as tab:
        for bad, field in (
            ({"title": "", "category": "meal", "price_yuan": "12"}, "title"),
            ({"title": "午餐", "category": "meal", "price_yuan": "-3"}, "price_yuan"),
            ({"title": "午餐", "category": "spaceship", "price_yuan": "12"}, "category"),
            ({"title": "午餐" * 200, "category": "meal", "price_yuan": "12"}, "title"),
        ):
            r = await tab.submit(base, base, bad)
            assert r.status_code == 400 and f'id="e-{field}"' in r.text, (bad, field)
        assert await db.fetchval("SELECT count(*) FROM offerings") == 0
        r = await tab.submit(base, base, {"title": "爱心早餐", "category": "meal", "price_yuan": "6.50"})
        assert r.status_code == 303
        row = await db.fetchrow("SELECT id, price_fen, status FROM offerings")
        assert row is not None and (row["price_fen"], row["status"]) == (650, "draft")
        offering_id = row["id"]
        r = await tab.submit(base, f"{base}/{offering_id}/publish", {})
        assert r.status_code == 303
        again = await tab.submit(base, f"{base}/{offering_id}/publish", {})
        assert again.status_code == 409 and "当前状态不允许此操作" in again.text
    assert await db.fetchval("SELECT status FROM offerings") == "published"
    found = await client.get("/api/v1/offerings?q=爱心早餐")
    assert found.json()["total"] == 1


async def test_an_order_shows_its_countdown_and_is_accepted_from_the_desk(app: Any, client: Any) -> None:
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup, name="易生活助手", kind="housekeeping")
    staff = await partner_staff(client, p)
    o = await published_offering(client, p, title="上门助浴", category="housekeeping", price_fen=3000, on_demand=True)
    granny = await resident(client, setup, "陈阿婆")
    placed = await client.post(
        "/api/v1/orders",
        json={"offering_id": o["id"], "address": "光阳小区3栋502", "note": "老人行动不便"},
        headers=granny.headers,
    )
    assert placed.status_code == 201, placed.text
    async with signed_in(app, staff) as tab:
        page = await tab.get(f"/partner/{p.id}/orders")
        assert "光阳小区3栋502" in page.text and "data-deadline=" in page.text and 'hx-trigger="every 10s"' in page.text
        part = await tab.get(f"/partner/{p.id}/orders", headers={"HX-Request": "true"})
        assert part.text.lstrip().startswith('<ul class="list" id="orders"')  # only the list, for HTMX
        r = await tab.submit(f"/partner/{p.id}/orders", f"/partner/{p.id}/orders/{placed.json()['id']}/accept", {})
        assert r.status_code == 303
    api = await client.get(f"/api/v1/orders/{placed.json()['id']}", headers=granny.headers)
    assert api.json()["status"] == "accepted"
    async with signed_in(app, granny) as tab:
        assert (await tab.get(f"/partner/{p.id}/orders")).status_code in (403, 404)
        r = await tab.submit("/bookings", f"/partner/{p.id}/orders/{placed.json()['id']}/complete", {})
        assert r.status_code in (403, 404)
    assert api.json()["status"] == "accepted"


async def test_reviews_and_revenue_pages_open_for_the_partners_staff(app: Any, client: Any) -> None:
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    staff = await partner_staff(client, p)
    async with signed_in(app, staff) as tab:
        reviews = await tab.get(f"/partner/{p.id}/reviews")
        assert reviews.status_code == 200 and "还没有评价" in reviews.text
        revenue = await tab.get(f"/partner/{p.id}/revenue")
        assert revenue.status_code == 200 and 'id="revenue-chart"' in revenue.text


async def test_the_partners_admin_sets_a_subsidised_price_and_residents_pay_it(app: Any, client: Any) -> None:
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    o = await published_offering(client, p, price_fen=1500, subsidies={})
    page = f"/partner/{p.id}/offerings/{o['id']}/edit"
    async with signed_in(app, p.admin) as tab:
        form = await tab.get(page)
        assert 'value="15.00"' in form.text and "独居老人" in form.text
        r = await tab.submit(page, page, {"title": "爱心午餐", "price_yuan": "15", "subsidy_elderly_alone": "20"})
        assert r.status_code in (400, 422) and 'role="alert"' in r.text  # a subsidised price above the price
        r = await tab.submit(page, page, {"title": "爱心午餐", "price_yuan": "15", "subsidy_elderly_alone": "5"})
        assert r.status_code == 303
    shown = await client.get(f"/api/v1/offerings/{o['id']}")
    assert shown.json()["subsidies"] == {"elderly_alone": 500}
    async with signed_in(app, await partner_staff(client, p)) as tab:
        assert (await tab.get(page)).status_code == 403  # staff serve; prices are the admin's


async def test_the_partner_answers_a_complaint_and_an_empty_answer_is_refused(app: Any, client: Any) -> None:
    from tests.marketplace_api import book, canteen

    c = await canteen(client)
    granny = await resident(client, c.setup, "陈阿婆")
    booking = (await book(client, granny, c.slot_id)).json()
    filed = await client.post(
        "/api/v1/complaints", json={"booking_id": booking["id"], "content": "饭菜太咸"}, headers=granny.headers
    )
    assert filed.status_code == 201, filed.text
    page = f"/partner/{c.partner.id}/reviews"
    action = f"/partner/{c.partner.id}/complaints/{filed.json()['id']}/handle"
    async with signed_in(app, c.staff) as tab:
        assert "饭菜太咸" in (await tab.get(page)).text
        r = await tab.submit(page, action, {"note": "   "})
        assert r.status_code == 400 and 'role="alert"' in r.text
        r = await tab.submit(page, action, {"note": "已提醒厨师少放盐,谢谢您的意见"})
        assert r.status_code == 303
    assert await db.fetchval("SELECT status FROM complaints") == "handled"
