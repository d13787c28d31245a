"""Community staff and partner staff at their desks in the console: deposits, settlement and today's bookings,
with bad input answered by the API's titles next to the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from linli import db
from tests.console_helpers import signed_in
from tests.marketplace_api import book, canteen, resident
from tests.partners_api import local, slot
from tests.welfare_api import drain_settlement_events


async def test_staff_record_a_deposit_and_bad_amounts_are_refused_next_to_the_field(app: Any, client: Any) -> None:
    c = await canteen(client)
    async with signed_in(app, c.setup.staff) as tab:  # staff see the fund; recording money is the admin's
        r = await tab.submit(
            f"/staff/{c.setup.id}/fund", f"/staff/{c.setup.id}/fund/deposits", {"amount_yuan": "10", "memo": "拨款"}
        )
        assert r.status_code == 403 and "无权进行此操作" in r.text
    async with signed_in(app, c.setup.admin) as tab:
        page = await tab.get(f"/staff/{c.setup.id}/fund")
        assert page.status_code == 200 and "余额" in page.text and 'id="months-chart"' in page.text
        for amount, words in (
            ("-5", "数值太小"),
            ("abc", "格式不正确"),
            ("0", "数值太小"),
            ("", "请填写此项"),
            ("1.234", "格式不正确"),
        ):
            r = await tab.submit(
                f"/staff/{c.setup.id}/fund",
                f"/staff/{c.setup.id}/fund/deposits",
                {"amount_yuan": amount, "memo": "区民政局拨款"},
            )
            assert r.status_code == 400 and 'id="e-amount_yuan"' in r.text and words in r.text, (amount, r.text[-800:])
        assert await db.fetchval("SELECT count(*) FROM welfare_transactions") == 0
        r = await tab.submit(
            f"/staff/{c.setup.id}/fund",
            f"/staff/{c.setup.id}/fund/deposits",
            {"amount_yuan": "1,200.50", "memo": "区民政局拨款", "payer": "区民政局"},
        )
        assert r.status_code == 303
        assert "¥1200.50" in (await tab.get(f"/staff/{c.setup.id}/fund")).text
    summary = await client.get(f"/api/v1/communities/{c.setup.id}/welfare-fund", headers=c.setup.staff.headers)
    assert summary.json()["balance_fen"] == 120_050


async def test_a_month_cannot_be_settled_before_it_begins(app: Any, client: Any) -> None:
    c = await canteen(client)
    next_year = f"{datetime.now(UTC).year + 1}-01"
    async with signed_in(app, c.setup.admin) as tab:
        r = await tab.submit(
            f"/staff/{c.setup.id}/settlement", f"/staff/{c.setup.id}/settlement", {"period": next_year}
        )
        assert r.status_code == 400 and 'id="e-period"' in r.text
        r = await tab.submit(
            f"/staff/{c.setup.id}/settlement", f"/staff/{c.setup.id}/settlement", {"period": "2026-13"}
        )
        assert r.status_code == 400 and "提交的数据不符合要求" in r.text
    assert await db.fetchval("SELECT count(*) FROM settlement_runs") == 0


async def test_partner_staff_serve_todays_booking_and_the_month_settles_once(app: Any, client: Any) -> None:
    c = await canteen(client, price_fen=2000)
    await client.put(
        f"/api/v1/partners/{c.partner.id}/revenue-share",
        json={"rate_bp": 500, "effective_from": local(days=0).date().isoformat()},
        headers=c.setup.admin.headers,
    )
    soon = max(datetime.now(UTC) + timedelta(minutes=20), local(days=0, hour=0, minute=5))
    today = await slot(client, c.partner, c.offering["id"], starts_at=soon, minutes=30)
    granny = await resident(client, c.setup, "陈阿婆")
    booking = (await book(client, granny, today["id"])).json()
    async with signed_in(app, c.staff) as tab:
        desk = await tab.get(f"/partner/{c.partner.id}")
        assert desk.status_code == 200 and booking["id"] in desk.text
        r = await tab.submit(
            f"/partner/{c.partner.id}", f"/partner/{c.partner.id}/bookings/{booking['id']}/complete", {}
        )
        assert r.status_code == 303
        again = await tab.submit(
            f"/partner/{c.partner.id}", f"/partner/{c.partner.id}/bookings/{booking['id']}/complete", {}
        )
        assert again.status_code == 409 and "当前状态不允许此操作" in again.text
    api = await client.get(f"/api/v1/bookings/{booking['id']}", headers=granny.headers)
    assert api.json()["status"] == "completed"

    period = local(days=0).strftime("%Y-%m")
    async with signed_in(app, c.setup.admin) as tab:
        for _ in range(2):  # settling twice counts each booking once
            key = f"settle-{_}"
            r = await tab.submit(
                f"/staff/{c.setup.id}/settlement",
                f"/staff/{c.setup.id}/settlement",
                {"period": period, "idempotency_key": key},
            )
            assert r.status_code == 303
            await drain_settlement_events()
        run = await tab.get(r.headers["location"])
        assert 'data-status="completed"' in run.text and "¥1.00" in run.text
    assert await db.fetchval("SELECT count(*) FROM settlement_lines") == 1
    async with signed_in(app, c.staff) as tab:
        revenue = await tab.get(f"/partner/{c.partner.id}/revenue")
        assert revenue.status_code == 200 and 'id="revenue-chart"' in revenue.text and "¥1.00" in revenue.text
