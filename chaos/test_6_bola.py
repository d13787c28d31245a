"""6. BOLA matrix: nobody of community A reads or changes community B's objects, whatever route they try.

Two communities are built alike through the API (chaos.bola.build_side): each with its admin and staff, a
resident, a volunteer, an approved canteen and objects of every kind the API names by id. The walk reads every
/api/ route from the app itself, finds the ids it names (path parameters, body fields ending in _id/_ids) and
fills them with B's objects: all at once, and for a route naming several ids each one alone among A's own (A's
staff putting B's grid on A's resident is as wrong as reading B's grid). Each of A's people who is not a platform
admin sends every such request to the live `linli serve --workers 2`; each must be refused 403 or 404
problem+json, show nothing of B, and leave every table of the database as it was.

A body id that names something not the caller's may also be refused as a conflict or a validation error (409 or
422: "not a member of your team") when a random id that names nothing gets the very same answer: the caller
then learns nothing of B's object. What is open to anyone is in ALLOWED, route by route and id by id, each with
its reason; the rest must be refused, so a route added later without an object check fails here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from chaos.bola import (
    Route,
    Side,
    api_routes,
    build_side,
    changed,
    fingerprint,
    ids_of,
    request_for,
    stranger,
)
from chaos.results import Results
from tests.api import Person

PROBLEM = "application/problem+json"

_CATALOG = "the catalog is public: published offerings, their times and partners are for every resident to book"
_BOOKABLE = "a resident may book any community's published slot (a neighbour's canteen too) and wait for a place"
_ENROL = (
    "a person is an account, not another community's object: staff enrol a walk-in neighbour as their own"
    " community's resident by setting their groups or grid (tests/test_communities.py), and the record is theirs"
)
_VOLUNTEER_ANYWHERE = (
    "any signed-in person may volunteer in any community (volunteers.services.profiles.create); the profile is"
    " the caller's own"
)
_OWN_BALANCE = "a person reads their own balance in any community's time bank, 0 where they have none"
# (method path, B's ids in the request joined by '+') -> why B's object there is open to A's people.
ALLOWED: dict[tuple[str, str], str] = {
    ("GET /api/v1/communities/{community_id:uuid}", "community_id"): "communities are listed for people to join",
    ("GET /api/v1/partners/{partner_id:uuid}", "partner_id"): _CATALOG,
    ("GET /api/v1/offerings/{offering_id:uuid}", "offering_id"): _CATALOG,
    ("GET /api/v1/offerings/{offering_id:uuid}/slots", "offering_id"): _CATALOG,
    ("GET /api/v1/offerings/{offering_id:uuid}/calendar.ics", "offering_id"): _CATALOG,
    ("GET /api/v1/slots/{slot_id:uuid}", "slot_id"): _CATALOG,
    ("GET /api/v1/communities/{community_id:uuid}/welfare-fund/disclosure", "community_id"): (
        "the fund's monthly disclosure (公示) is published to everyone"
    ),
    ("POST /api/v1/auth/register", "community_id"): "anyone may sign up as a resident of any community",
    ("POST /api/v1/partners", "community_id"): (
        "anyone may apply to be a community's partner; its staff decide (the partner starts pending)"
    ),
    ("POST /api/v1/bookings", "slot_id"): _BOOKABLE,
    ("POST /api/v1/bookings/quote", "slot_id"): _BOOKABLE,
    ("POST /api/v1/orders", "offering_id"): _BOOKABLE,
    ("POST /api/v1/slots/{slot_id:uuid}/waitlist", "slot_id"): _BOOKABLE,
    ("GET /api/v1/slots/{slot_id:uuid}/waitlist/me", "slot_id"): _BOOKABLE + "; /me is the caller's own place",
    ("DELETE /api/v1/slots/{slot_id:uuid}/waitlist/me", "slot_id"): _BOOKABLE + "; /me is the caller's own place",
    ("POST /api/v1/communities/{community_id:uuid}/members", "user_id"): (
        "a community's admin gives a role to any account: that is how a person joins"
    ),
    ("POST /api/v1/partners/{partner_id:uuid}/members", "user_id"): (
        "a partner's admin takes on any account as its staff"
    ),
    ("PUT /api/v1/communities/{community_id:uuid}/residents/{user_id:uuid}/priority-groups", "user_id"): _ENROL,
    ("PUT /api/v1/communities/{community_id:uuid}/residents/{user_id:uuid}/grid", "user_id"): _ENROL,
    ("GET /api/v1/communities/{community_id:uuid}/residents/{user_id:uuid}", "user_id"): (
        "the community's own record of a person, blank when it has none (any id answers alike); " + _ENROL
    ),
    ("GET /api/v1/communities/{community_id:uuid}/residents/{user_id:uuid}", "community_id"): (
        "a person reads their own record in any community, blank where they have none; others are refused"
    ),
    ("POST /api/v1/volunteers", "community_id"): _VOLUNTEER_ANYWHERE,
    ("POST /api/v1/volunteers", "home_grid_id+community_id"): _VOLUNTEER_ANYWHERE,
    ("POST /api/v1/time-bank/gifts", "to_user_id"): (
        "credits are given to any account, family outside the community too (tests/test_timebank.py)"
    ),
    ("GET /api/v1/time-bank/accounts/{community_id:uuid}", "community_id"): _OWN_BALANCE,
    ("GET /api/v1/time-bank/accounts/{community_id:uuid}/{user_id:uuid}", "community_id"): _OWN_BALANCE,
    ("GET /api/v1/time-bank/accounts/{community_id:uuid}/{user_id:uuid}", "user_id"): (
        "the community's own ledger of any person (a gift may open an account for someone from elsewhere);"
        " 0 minutes where there is none, as for any id"
    ),
    ("GET /api/v1/partners/{partner_id:uuid}/reviews", "partner_id"): (
        _CATALOG + "; reviews carry no reviewer (feedback.get_partner_reviews)"
    ),
}

# GET routes whose own object A's people do not read in this world, and why (the check that the walk's ids are
# the right kinds skips only these).
OWN_READ_EXEMPT: dict[str, str] = {
    "GET /api/v1/slots/{slot_id:uuid}/waitlist/me": "nobody of A waits for a place: A's slot is not full",
    "GET /api/v1/public/certificates/{serial_no:str}": "a serial opens its certificate only with its check code",
}


def variants(route: Route) -> list[list[str]]:
    """Which of the route's ids take B's objects: all of them, and each alone when there are several."""
    names = [s.name for s in route.slots]
    return [names] + ([[n] for n in names] if len(names) > 1 else [])


async def send(http: httpx.AsyncClient, route: Route, values: dict[str, str], caller: Person) -> httpx.Response:
    path, body, query = request_for(route, values)
    return await http.request(route.method, path, json=body, params=query, headers=caller.headers)


def code_of(r: httpx.Response) -> str | None:
    try:
        body = r.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


async def own_objects_open(http: httpx.AsyncClient, routes: list[Route], a: Side) -> list[str]:
    """GET routes for which none of A's people reads A's own object: the walk's ids would then prove nothing."""
    closed = []
    for route in routes:
        if route.method != "GET" or not route.slots or route.key in OWN_READ_EXEMPT:
            continue
        statuses = []
        for caller in a.callers().values():
            r = await send(http, route, ids_of(a, route), caller)
            statuses.append(r.status_code)
            if r.status_code == 200:
                break
        else:
            closed.append(f"{route.key}: {statuses}")
    return closed


async def test_nobody_of_one_community_reads_or_changes_another_communitys_objects(
    app: Any, client: Any, live_server: str, results: Results
) -> None:
    a = await build_side(client, "光阳", 101)
    b = await build_side(client, "白龙", 202)
    routes = api_routes(app)
    unknown = [f"{r.key}: {u}" for r in routes for u in r.unknown]
    assert not unknown, f"the walker does not know what these name; give the world such an object: {unknown}"
    stale = set(ALLOWED) - {(r.key, "+".join(names)) for r in routes for names in variants(r)}
    assert not stale, f"ALLOWED names routes or ids the app no longer has: {stale}"
    assert set(OWN_READ_EXEMPT) <= {r.key for r in routes}, set(OWN_READ_EXEMPT) - {r.key for r in routes}

    failures: list[str] = []
    figures: Counter[str] = Counter()
    used: set[tuple[str, str]] = set()
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        # (Reading one's own may write: an audited download, a time-bank account opened on first sight.)
        closed = await own_objects_open(http, routes, a)
        assert not closed, f"A's people cannot read A's own objects here, so the ids are wrong: {closed}"

        for route in routes:
            if not route.slots:
                continue
            figures["routes_with_ids"] += 1
            for b_names in variants(route):
                values = ids_of(a, route) | {n: ids_of(b, route)[n] for n in b_names}
                rule = (route.key, "+".join(b_names))
                allowed = rule in ALLOWED
                if allowed:
                    used.add(rule)
                    figures["allowed_by_rule"] += 1
                    if route.method != "GET":
                        continue  # an allowed write would write: that is what it is for
                for who, caller in a.callers().items():
                    label = f"{who} {route.key} with B's {'+'.join(b_names)}"
                    before = await fingerprint()
                    r = await send(http, route, values, caller)
                    rows = changed(before, await fingerprint())
                    figures["calls"] += 1
                    if rows:
                        figures["rows_changed"] += len(rows)
                        failures.append(f"{label}: {r.status_code}, wrote {rows}")
                        continue
                    if r.status_code >= 500:
                        failures.append(f"{label}: {r.status_code} {r.text[:200]}")
                        continue
                    if allowed:
                        continue
                    leaked = [s for s in b.secrets if s in r.text]
                    problem = r.headers.get("content-type", "").startswith(PROBLEM)
                    if r.status_code in (403, 404) and problem and not leaked:
                        figures[f"refused_{r.status_code}"] += 1
                        continue
                    body_only = all(s.where == "body" for s in route.slots if s.name in b_names)
                    if r.status_code in (409, 422) and problem and body_only and not leaked:
                        before = await fingerprint()
                        nothing = await send(http, route, stranger(values, b_names), caller)
                        assert changed(before, await fingerprint()) == [], label
                        if (nothing.status_code, code_of(nothing)) == (r.status_code, code_of(r)):
                            figures["refused_as_unknown"] += 1
                            continue
                    failures.append(f"{label}: {r.status_code} {code_of(r)} leaked={leaked} {r.text[:160]}")
    assert used == set(ALLOWED), f"ALLOWED entries no request needed: {set(ALLOWED) - used}"
    results.record(
        "bola",
        routes_walked=len(routes),
        routes_with_ids=figures["routes_with_ids"],
        calls=figures["calls"],
        refused_403=figures["refused_403"],
        refused_404=figures["refused_404"],
        refused_as_unknown=figures["refused_as_unknown"],
        allowed_by_rule=figures["allowed_by_rule"],
        rows_changed=figures["rows_changed"],
        callers=len(a.callers()),
        defects=len(failures),
    )
    assert not failures, "\n".join(failures)
