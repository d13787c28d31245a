"""A platform admin browses the deployment's tables in piccolo-admin at /admin, signed in with the console's session;
everyone else is refused, and nothing can be changed there."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from linli import db
from tests.api import Person, platform_admin, sign_up
from tests.browser import Pages
from tests.marketplace_api import assert_problem, book, canteen, resident

TABLES = {
    "communities",
    "partners",
    "offerings",
    "slots",
    "bookings",
    "volunteer_profiles",
    "volunteer_tasks",
    "welfare_accounts",
    "welfare_transactions",
    "welfare_entries",
}


def session(person: Person, **extra: str) -> dict[str, str]:
    """The console's session cookie of `person` (what the browser sends after signing in)."""
    cookies = {"linli_session": person.token, **extra}
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


async def _booked(client: Any) -> tuple[Any, Person, str]:
    c = await canteen(client)
    person = await resident(client, c.setup)
    r = await book(client, person, c.slot_id)
    assert r.status_code == 201, r.text
    return c, person, r.json()["id"]


async def test_a_platform_admin_browses_the_bookings_in_the_admin(client):
    _c, _person, booking_id = await _booked(client)
    admin = await platform_admin(client, "街道管理员")

    page = await client.get("/admin/", headers=session(admin))
    assert page.status_code == 200, page.text
    assert '<div id="app">' in page.text
    # The single-page app's script and style, relative to /admin/.
    assets = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', page.text)
    assert len(assets) == 2
    for asset in assets:
        loaded = await client.get(f"/admin/{asset}", headers=session(admin))
        assert loaded.status_code == 200, asset
        assert loaded.headers["content-type"].split(";")[0] in ("text/javascript", "text/css", "application/javascript")
    assert (await client.get("/admin", headers=session(admin))).headers["location"] == "/admin/"

    who = await client.get("/admin/api/user/", headers=session(admin))
    assert who.status_code == 200, who.text
    assert who.json() == {"username": "街道管理员", "user_id": admin.id}
    meta = (await client.get("/admin/public/meta/", headers=session(admin))).json()
    assert meta["site_name"] == "邻里 Linli 管理后台"

    tables = await client.get("/admin/api/tables/", headers=session(admin))
    assert set(tables.json()) == TABLES  # users (password hashes) are not in it, nor reachable
    assert (await client.get("/admin/api/tables/users/", headers=session(admin))).status_code == 404

    rows = await client.get("/admin/api/tables/bookings/", params={"__readable": "true"}, headers=session(admin))
    assert rows.status_code == 200, rows.text
    [row] = rows.json()["rows"]
    assert (row["id"], row["status"], row["price_fen"]) == (booking_id, "confirmed", 1500)
    # The same with the API's bearer token instead of the cookie.
    bearer = await client.get("/admin/api/tables/bookings/", headers=admin.headers)
    assert [r["id"] for r in bearer.json()["rows"]] == [booking_id]


async def test_residents_staff_and_strangers_are_refused(client):
    c, person, _ = await _booked(client)
    stranger_paths = ["/admin/api/tables/bookings/", "/admin/api/user/", "/admin/public/meta/", "/admin/assets/x"]
    for someone in (person, c.setup.admin, c.setup.staff):  # a resident, a community's admin and staff
        page = await client.get("/admin/", headers=session(someone))
        assert_problem(page, 403, "admin_forbidden")
        assert page.json()["title"] == "管理后台仅供平台管理员使用"
        for path in stranger_paths:
            assert_problem(await client.get(path, headers=session(someone)), 403, "admin_forbidden")
            assert_problem(await client.get(path, headers=someone.headers), 403, "admin_forbidden")
    # Signed out: the page sends the browser to the console's sign-in and back; the API refuses.
    page = await client.get("/admin/")
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=%2Fadmin%2F")
    for path in stranger_paths:
        assert_problem(await client.get(path), 403, "admin_forbidden")
    forged = {"Cookie": "linli_session=" + person.token[:-4] + "AAAA"}
    assert_problem(await client.get("/admin/api/tables/bookings/", headers=forged), 403, "admin_forbidden")
    # A platform admin demoted a moment ago is refused at once.
    admin = await platform_admin(client)
    assert (await client.get("/admin/api/user/", headers=session(admin))).status_code == 200
    await db.execute("UPDATE users SET is_platform_admin = false WHERE id = $1", UUID(admin.id))
    assert_problem(await client.get("/admin/api/user/", headers=session(admin)), 403, "admin_forbidden")


async def test_nothing_changes_through_the_admin(client):
    _c, _person, booking_id = await _booked(client)
    admin = await platform_admin(client)
    # piccolo-admin's CSRF check passes (header equals cookie): what refuses the writes is read-only mode.
    csrf = {"X-CSRFToken": "t0ken"}
    headers = session(admin, csrftoken="t0ken") | csrf
    for method, path, body in [
        ("PATCH", f"/admin/api/tables/bookings/{booking_id}/", {"status": "completed"}),
        ("PUT", f"/admin/api/tables/bookings/{booking_id}/", {"status": "completed"}),
        ("DELETE", f"/admin/api/tables/bookings/{booking_id}/", None),
        ("POST", "/admin/api/tables/welfare_entries/", {"amount_fen": 100}),
        ("DELETE", "/admin/api/tables/welfare_transactions/", None),
        ("POST", "/admin/api/tables/communities/", {"name": "假社区"}),
    ]:
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == 405, (method, path, r.status_code, r.text)
    assert await db.fetchval("SELECT status FROM bookings") == "confirmed"
    assert await db.fetchval("SELECT count(*) FROM communities") == 1
    # piccolo-admin's own password change works on accounts Linli does not have.
    r = await client.post("/admin/api/change-password/", headers=headers, json={})
    assert_problem(r, 404)


async def test_signing_out_of_the_admin_ends_the_console_session(client):
    admin = await platform_admin(client)
    refused = await client.post("/admin/public/logout/", headers=session(admin))
    assert_problem(refused, 403, "admin_forbidden")  # no CSRF token: another site's form cannot sign anyone out
    r = await client.post("/admin/public/logout/", headers=session(admin, csrftoken="abc") | {"X-CSRFToken": "abc"})
    assert r.status_code == 200, r.text
    cleared = r.headers["set-cookie"]
    assert cleared.startswith("linli_session=") and "Max-Age=0" in cleared
    # piccolo-admin's own sign-in form is not used: the platform admin is signed in already.
    assert (await client.get("/admin/public/login/", headers=session(admin))).headers["location"] == "/admin/"


# --- in a real browser ---------------------------------------------------------------------------------------


async def test_a_platform_admin_signs_in_and_sees_the_bookings_table(client: Any, pages: Pages) -> None:
    _c, _person, booking_id = await _booked(client)
    admin = await platform_admin(client, "街道管理员")
    tab = await pages.open(admin)
    await tab.goto("/admin/#/bookings")
    # piccolo-admin's table of bookings, with the booking made above.
    # piccolo-admin's table of bookings (the single-page app fetches it from /admin/api), with the booking made
    # above, in the admin's Chinese menus.
    await tab.get_by_role("link", name=booking_id).wait_for(timeout=30_000)
    row = tab.locator("tr", has=tab.get_by_role("link", name=booking_id))
    assert "confirmed" in await row.inner_text()
    # piccolo-admin fills in the signed-in user's name from its own API call, a moment after the table shows.
    await tab.get_by_text("街道管理员").first.wait_for(timeout=30_000)
    menu = await tab.inner_text("body")
    assert "邻里 Linli 管理后台" in menu and "福利基金账本" in menu and "街道管理员" in menu
    await pages.shoot(tab, "admin-bookings")


async def test_a_resident_is_refused_in_the_browser(client: Any, pages: Pages) -> None:
    person = await sign_up(client, "居民老王")
    tab = await pages.open(person)
    answer = await tab.goto("/admin/")
    assert answer is not None and answer.status == 403
    assert "管理后台仅供平台管理员使用" in await tab.inner_text("body")
    assert await tab.query_selector("#app") is None  # no admin rendered

    signed_out = await pages.open()
    await signed_out.goto("/admin/")
    await signed_out.wait_for_url(lambda url: "/login?next=" in url)
