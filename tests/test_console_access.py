"""The console's access rules are exactly the API's: no page of another community or partner opens for you.

The walk visits every console route that names a community, a partner or one of their objects (read from the
app's routes, not listed by hand, so a page added later without an object check fails here), fills the ids with
community B's, partner B's and B's resident's objects, and requests each as a resident of community A and as
the admin of partner A: every GET is 403/404 and shows nothing of B, every POST is refused and writes nothing.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid4

from linli import db
from notifications import services as notifications
from tests.api import Person, community_with_staff
from tests.console_helpers import signed_in
from tests.marketplace_api import book, canteen, resident

_PARAM = re.compile(r"\{(\w+):(\w+)\}")
# Open to everyone signed in, as in the API: the catalog's offerings and slots of every community may be booked
# by any resident (a neighbour's canteen too); the disclosure and certificate-check pages need no sign-in.
_OPEN_TO_ALL = ("/public/", "/verify/", "/offerings/", "/slots/")


def _console_routes(app: Any) -> list[tuple[str, str]]:
    routes = []
    for route in app.routes:
        if route.path.startswith(("/api/", "/schema", "/static", "/health", "/metrics", "/admin")):
            continue
        if not _PARAM.search(route.path) or route.path.startswith(_OPEN_TO_ALL):
            continue  # pages without ids are the caller's own
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                routes.append((method, route.path))
    return routes


async def _row_counts() -> dict[str, int]:
    tables = await db.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename NOT IN ('migration', 'processed_messages', 'idempotency_keys')"
    )
    counts = {}
    for row in tables:
        counts[row["tablename"]] = await db.fetchval(f'SELECT count(*) FROM "{row["tablename"]}"')
    return counts


async def test_nobody_opens_or_changes_a_console_page_of_another_community_or_partner(app: Any, client: Any) -> None:
    a = await canteen(client, name="光阳社区")
    b = await canteen(client, name="白龙社区")
    await db.execute("UPDATE partners SET name = '白龙和乐食堂' WHERE id = $1", b.partner.id)
    resident_a = await resident(client, a.setup, "陈阿婆")
    resident_b = await resident(client, b.setup, "林阿伯")
    booking_b = (await book(client, resident_b, b.slot_id)).json()
    async with db.unit_of_work():  # what the booking's notice actor writes, without a worker running
        await notifications.create(
            user_id=UUID(resident_b.id),
            kind="booking.confirmed",
            title="预约成功",
            body="林阿伯的午餐已预约",
            source_key="test:b",
            data={"booking_id": booking_b["id"]},
        )
    notification_b = await db.fetchval("SELECT id FROM notifications WHERE user_id = $1", UUID(resident_b.id))
    ids = {
        "notification_id": str(notification_b),
        "community_id": b.setup.id,
        "partner_id": b.partner.id,
        "offering_id": b.offering["id"],
        "slot_id": b.slot_id,
        "booking_id": booking_b["id"],
        "user_id": resident_b.id,
        "resident_id": resident_b.id,
    }
    secrets = ("白龙社区", "白龙和乐食堂", "林阿伯")

    def fill(path: str) -> str:
        return _PARAM.sub(lambda m: ids.get(m.group(1), str(uuid4())) if m.group(2) == "uuid" else "1", path)

    routes = _console_routes(app)
    staff_pages = [p for m, p in routes if m == "GET" and p.startswith("/staff/")]
    partner_pages = [p for m, p in routes if m == "GET" and p.startswith("/partner/")]
    assert len(staff_pages) >= 3 and len(partner_pages) >= 2, routes  # the walk sees the console's desks

    before = await _row_counts()
    outsiders: list[Person] = [resident_a, a.partner.admin, a.setup.staff]
    checked = 0
    for person in outsiders:
        async with signed_in(app, person) as tab:
            token = await tab.csrf("/account")
            for method, template in routes:
                path = fill(template)
                if method == "GET":
                    r = await tab.get(path)
                    assert r.status_code in (403, 404), (person.name, path, r.status_code)
                else:
                    r = await tab.client.request(method, path, data={"_csrf_token": token, "reason": "x"})
                    assert r.status_code in (400, 403, 404, 409, 422), (person.name, method, path, r.status_code)
                    assert r.status_code != 303, (person.name, method, path)  # no "done" redirect
                leaked = [s for s in secrets if s in r.text]
                assert not leaked, (person.name, method, path, leaked)
                checked += 1
    assert await _row_counts() == before  # nothing written by any of the refused requests
    assert checked == len(outsiders) * len(routes)


async def test_staff_of_a_community_open_their_own_desk(app: Any, client: Any) -> None:
    # The other side of the rule, so the walk above cannot pass by refusing everyone.
    setup = await community_with_staff(client, "光阳社区")
    async with signed_in(app, setup.staff) as tab:
        r = await tab.get(f"/staff/{setup.id}")
        assert r.status_code == 200 and "光阳社区" in r.text
