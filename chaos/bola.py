"""The BOLA matrix's world and route walker: two communities built alike through the API, and every API route
with an object id, filled from the app's own route table and handler signatures (never a hand-written list).

A side is a community with its admin and staff, a resident, a volunteer, an approved canteen and objects of every
kind the API names by id (offering, schedule, slot, booking, order, complaint, task, assignment, team, team offer,
hours, deposit, relief, settlement, budget round and proposal, certificate, notification, grid). The walker maps
each id parameter or body field to a kind by its name; an id it cannot place is reported, so a route added with
a new kind of id fails the matrix until the world has an object of that kind.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from uuid import uuid4

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from linli import db
from marketplace.tasks import notify_booking
from tests.api import CommunitySetup, Person, community_with_staff
from tests.conftest import next_phone
from tests.marketplace_api import resident
from tests.partners_api import approved_partner, local, published_offering, slot, weekly_schedule
from tests.volunteers_api import (
    UNDER_WAY,
    act,
    catalog,
    certificate_issuer,
    id_number,
    match,
    real_name,
    task,
    volunteer,
)

API = "/api/v1"
PARAM = re.compile(r"\{(\w+):(\w+)\}")
# Parameters Litestar or the app fills, not the caller.
SYSTEM = {"user", "data", "scope", "request", "state", "headers", "cookies", "idempotency_key"}

# Each id a route may name -> the kind of object it names. Path parameters and body fields alike.
KINDS: dict[str, str] = {
    "community_id": "community",
    "partner_id": "partner",
    "offering_id": "offering",
    "schedule_id": "schedule",
    "slot_id": "slot",
    "booking_id": "booking",
    "order_id": "order",
    "complaint_id": "complaint",
    "notification_id": "notification",
    "run_id": "settlement",
    "disbursement_id": "disbursement",
    "transaction_id": "fund_transaction",
    "round_id": "budget_round",
    "proposal_id": "budget_proposal",
    "volunteer_id": "volunteer",
    "volunteer_ids": "volunteer",
    "certificate_id": "certificate",
    "serial_no": "certificate_serial",
    "team_id": "team",
    "offer_id": "team_offer",
    "task_id": "task",
    "assignment_id": "assignment",
    "grid_id": "grid",
    "home_grid_id": "grid",
    # People: a user id in a community's context names that community's resident or staff member.
    "user_id": "resident",
    "resident_id": "resident",
    "recipient_user_id": "resident",
    "to_user_id": "resident",
    "worker_user_id": "staff",
    "coordinator_user_id": "staff",
}
# Where the body's model says more than the field's name: an order is placed for an on-demand offering.
KIND_IN_MODEL: dict[tuple[str, str], str] = {("OrderIn", "offering_id"): "on_demand_offering"}
# Parameters that are not objects of a side: the same plausible value on both sides.
SCALARS: dict[str, str] = {"period": "2026-10", "code": "haircut"}


@dataclass
class Side:
    name: str
    setup: CommunitySetup
    resident: Person
    volunteer: Person
    partner_admin: Person
    ids: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # names only this side's objects carry; a refusal must show none of them

    def callers(self) -> dict[str, Person]:
        """Everyone of this side who is not a platform admin."""
        return {
            "resident": self.resident,
            "volunteer": self.volunteer,
            "partner_admin": self.partner_admin,
            "community_staff": self.setup.staff,
            "community_admin": self.setup.admin,
        }


async def _ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    return dict(r.json())


async def build_side(client: Any, name: str, sequence: int) -> Side:
    """One community and one object of every kind, made through the API as its people would."""
    setup = await community_with_staff(client, f"{name}社区")
    cid = setup.id
    await catalog(client, setup)
    await certificate_issuer(client, setup)
    grid = await _ok(
        await client.post(
            f"{API}/communities/{cid}/grids", json={"name": f"{name}一网格"}, headers=setup.admin.headers
        ),
        201,
    )
    person = await resident(client, setup, f"{name}陈阿婆", groups=["elderly"])
    helper, profile = await volunteer(client, setup, f"{name}志愿者")
    await real_name(client, helper, profile, f"{name}何志愿", id_number("19900307", sequence))

    canteen = await approved_partner(client, setup, name=f"{name}和乐食堂")
    meal = await published_offering(client, canteen, title=f"{name}爱心午餐", subsidies={"elderly": 1000})
    lunch = await slot(client, canteen, meal["id"], capacity=10)
    schedule = await weekly_schedule(client, canteen, meal["id"], valid_from=local(days=30).date(), capacity=5)
    bath = await published_offering(
        client, canteen, title=f"{name}上门助浴", category="housekeeping", price_fen=3000, on_demand=True
    )
    # One booking stays confirmed (a place of the slot taken), one is served.
    await _ok(await client.post(f"{API}/bookings", json={"slot_id": lunch["id"]}, headers=person.headers), 201)
    served = await _ok(await client.post(f"{API}/bookings", json={"slot_id": lunch["id"]}, headers=person.headers), 201)
    await _ok(await client.post(f"{API}/bookings/{served['id']}/complete", headers=canteen.headers))
    await _ok(
        await client.post(f"{API}/bookings/{served['id']}/review", json={"rating": 4}, headers=person.headers), 201
    )
    complaint = await _ok(
        await client.post(
            f"{API}/complaints", json={"booking_id": served["id"], "content": "饭菜偏咸"}, headers=person.headers
        ),
        201,
    )
    order = await _ok(
        await client.post(
            f"{API}/orders", json={"offering_id": bath["id"], "address": "3栋502"}, headers=person.headers
        ),
        201,
    )
    # The confirmation notices, as the worker's actor writes them from the outbox.
    for event in await db.fetch("SELECT id, payload FROM outbox_events WHERE topic = 'booking.confirmed'"):
        await notify_booking(str(event["id"]), json.loads(event["payload"]))
    inbox = await _ok(await client.get(f"{API}/me/notifications", headers=person.headers))
    assert inbox["items"], inbox

    # Volunteering: a task served and its hours approved (an hours record), a certificate of them, and a team
    # offered a second task.
    # Under way, not starting in half an hour: from 23:30 Shanghai time that one is tomorrow's, and a certificate
    # to date rightly leaves it out.
    served_task = await task(client, setup, title=f"{name}助餐配送", starts_in=UNDER_WAY)
    offers = await match(client, setup, served_task["id"])
    assignment = offers[0]["id"]
    for step in ("accept", "check-in", "check-out"):
        await _ok(await act(client, helper, assignment, step))
    await _ok(await act(client, setup.staff, assignment, "approve", {"minutes": 90}))
    certificate = await _ok(
        await client.post(f"{API}/volunteers/{profile['id']}/service-certificates", headers=setup.staff.headers),
        201,
    )
    team = await _ok(
        await client.post(f"{API}/teams", json={"community_id": cid, "name": f"{name}服务队"}, headers=helper.headers),
        201,
    )
    open_task = await task(client, setup, title=f"{name}陪诊", needed=2, starts_in=timedelta(days=2))
    team_offer = await _ok(
        await client.post(
            f"{API}/tasks/{open_task['id']}/team-offers", json={"team_id": team["id"]}, headers=setup.staff.headers
        ),
        201,
    )

    # The welfare fund: a deposit, a relief awaiting its second admin, a settlement asked for, a budget round.
    deposit = await _ok(
        await client.post(
            f"{API}/communities/{cid}/welfare-fund/deposits",
            json={"amount_fen": 500_000, "memo": "街道拨款"},
            headers=setup.admin.headers,
        ),
        201,
    )
    relief = await _ok(
        await client.post(
            f"{API}/communities/{cid}/welfare-fund/disbursements",
            json={"recipient_user_id": person.id, "amount_fen": 20_000, "reason": "困难救助"},
            headers=setup.admin.headers,
        ),
        201,
    )
    run = await _ok(
        await client.post(
            f"{API}/communities/{cid}/settlements", json={"period": "2026-10"}, headers=setup.admin.headers
        ),
        202,
    )
    budget_round = await _ok(
        await client.post(
            f"{API}/communities/{cid}/budget-rounds",
            json={"title": f"{name}微实事", "budget_fen": 100_000},
            headers=setup.staff.headers,
        ),
        201,
    )
    proposal = await _ok(
        await client.post(
            f"{API}/budget-rounds/{budget_round['id']}/proposals",
            json={"title": "加装扶手", "requested_fen": 30_000},
            headers=person.headers,
        ),
        201,
    )
    side = Side(
        name=name,
        setup=setup,
        resident=person,
        volunteer=helper,
        partner_admin=canteen.admin,
        secrets=(name,),  # every object of the side carries its name: 白龙社区, 白龙和乐食堂, 白龙陈阿婆 ...
    )
    side.ids = {
        "community": cid,
        "grid": str(grid["id"]),
        "resident": person.id,
        "staff": setup.staff.id,
        "partner": canteen.id,
        "offering": str(meal["id"]),
        "on_demand_offering": str(bath["id"]),
        "schedule": str(schedule["id"]),
        "slot": str(lunch["id"]),
        # The served booking: it has a review and a complaint, so every booking route has something to show.
        "booking": str(served["id"]),
        "order": str(order["id"]),
        "complaint": str(complaint["id"]),
        "notification": str(inbox["items"][0]["id"]),
        "volunteer": str(profile["id"]),
        "task": str(open_task["id"]),
        "assignment": str(assignment),
        "certificate": str(certificate["id"]),
        "certificate_serial": str(certificate["serial_no"]),
        "team": str(team["id"]),
        "team_offer": str(team_offer["id"]),
        "fund_transaction": str(deposit["transaction_id"]),
        "disbursement": str(relief["id"]),
        "settlement": str(run["id"]),
        "budget_round": str(budget_round["id"]),
        "budget_proposal": str(proposal["id"]),
    }
    return side


# --- the walker ------------------------------------------------------------------------------------------


@dataclass
class IdSlot:
    """One id a route names: in its path or in its body (`where`), of a kind of object."""

    name: str
    where: Literal["path", "body"]
    kind: str
    many: bool = False  # a body list of ids


@dataclass
class Route:
    method: str
    path: str
    public: bool
    body_model: type[BaseModel] | None
    slots: list[IdSlot]
    scalars: dict[str, str]  # path or required query parameters that are not objects
    query: list[str]  # which of `scalars` go in the query string
    unknown: list[str]  # parameters the walker cannot fill: the matrix fails on each

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _models(annotation: Any) -> list[type[BaseModel]]:
    args = typing.get_args(annotation) or (annotation,)
    return [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]


def api_routes(app: Any) -> list[Route]:
    """Every method of every /api/ route, with the ids it names and what else it needs."""
    from linli.auth.security import PUBLIC_OPT_KEY

    found = []
    for route in app.routes:
        if not route.path.startswith(API + "/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            params = handler.parsed_fn_signature.parameters
            data = params.get("data")
            models = _models(data.annotation) if data is not None else []
            model = models[0] if models else None
            slots: list[IdSlot] = []
            scalars: dict[str, str] = {}
            query: list[str] = []
            unknown: list[str] = []
            in_path = {m.group(1) for m in PARAM.finditer(route.path)}
            for name in sorted(in_path):
                if name in KINDS:
                    slots.append(IdSlot(name, "path", KINDS[name]))
                elif name in SCALARS:
                    scalars[name] = SCALARS[name]
                else:
                    unknown.append(f"path parameter {name}")
            for name, param in params.items():
                if name in SYSTEM or name in in_path or param.has_default:
                    continue
                if name in SCALARS:  # a required query parameter
                    scalars[name] = SCALARS[name]
                    query.append(name)
                else:
                    unknown.append(f"required parameter {name}")
            if model is not None:
                for fname in model.model_fields:
                    if not fname.endswith(("_id", "_ids")):
                        continue
                    kind = KIND_IN_MODEL.get((model.__name__, fname)) or KINDS.get(fname)
                    if kind is None:
                        unknown.append(f"body field {model.__name__}.{fname}")
                    else:
                        slots.append(IdSlot(fname, "body", kind, many=fname.endswith("_ids")))
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                found.append(
                    Route(
                        method,
                        route.path,
                        bool(handler.opt.get(PUBLIC_OPT_KEY)),
                        model,
                        slots,
                        scalars,
                        query,
                        unknown,
                    )
                )
    return found


# --- bodies ----------------------------------------------------------------------------------------------

_TOMORROW = local(days=1, hour=10, minute=0)
# Values by field name where a type alone would not make a body the service accepts.
FIELD_VALUES: dict[str, Any] = {
    "phone": lambda: next_phone(),
    "password": "s3cret-pass",
    "starts_at": _TOMORROW.isoformat(),
    "ends_at": (_TOMORROW + timedelta(hours=2)).isoformat(),
    "start_time": "10:00",
    "end_time": "12:00",
    "valid_from": str(_TOMORROW.date()),
    "effective_from": str(_TOMORROW.date()),
    "weekdays": [1, 3, 5],
    "groups": ["elderly"],
    "star_thresholds_hours": [10, 50, 100, 300, 1000],
    "id_number": id_number("19850611", 777),
    "period": SCALARS["period"],
    "code": "bola_check",
    "contact": "0898-6529 1234",
    "rating": 5,
    "minutes_delta": 10,
    "rate_bp": 500,
    "satisfaction": "satisfied",
}


def _value(name: str, info: FieldInfo | None, annotation: Any) -> Any:
    if name in FIELD_VALUES:
        v = FIELD_VALUES[name]
        return v() if callable(v) else v
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _value(name, info, inner[0])
    if origin is typing.Annotated:
        return _value(name, info, typing.get_args(annotation)[0])
    if origin is Literal:
        return typing.get_args(annotation)[0]
    metadata = info.metadata if info is not None else []
    bound = {k: getattr(m, k) for m in metadata for k in ("ge", "gt", "le", "min_length") if hasattr(m, k)}
    if annotation is str:
        return "越权测试" + "号" * max(0, int(bound.get("min_length", 0)) - 4)
    if annotation is SecretStr:
        return FIELD_VALUES["id_number"]
    if annotation is bool:
        return False
    if annotation is int:
        low = bound.get("ge", bound.get("gt", 0) + 1)
        return max(int(low), min(100, int(bound.get("le", 100))))
    if annotation is date:
        return str(_TOMORROW.date())
    if annotation is datetime or getattr(annotation, "__name__", "") == "AwareDatetime":
        return _TOMORROW.isoformat()
    if annotation is time:
        return "10:00"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return required_body(annotation)
    raise TypeError(f"the walker cannot fill {name}: {annotation!r}")


def required_body(model: type[BaseModel]) -> dict[str, Any]:
    """A body the model accepts: its required fields, each with a plausible value."""
    return {
        name: _value(name, info, info.annotation)
        for name, info in model.model_fields.items()
        if info.is_required() and not name.endswith(("_id", "_ids"))
    }


# --- one request -----------------------------------------------------------------------------------------


def request_for(route: Route, values: dict[str, str]) -> tuple[str, dict[str, Any] | None, dict[str, str]]:
    """(path, json body, query) for `route` with each id slot filled from `values` (slot name -> id)."""
    path = PARAM.sub(lambda m: values.get(m.group(1)) or route.scalars[m.group(1)], route.path)
    query = {name: route.scalars[name] for name in route.query}
    if route.body_model is None:
        return path, None, query
    body = required_body(route.body_model)
    for s in route.slots:
        if s.where == "body":
            body[s.name] = [values[s.name]] if s.many else values[s.name]
    return path, body, query


def ids_of(side: Side, route: Route) -> dict[str, str]:
    return {s.name: side.ids[s.kind] for s in route.slots}


# --- the database's fingerprint --------------------------------------------------------------------------

_TABLES: list[str] = []


async def fingerprint() -> dict[str, tuple[int, str]]:
    """Every table's row count and the md5 of its rows in order: equal fingerprints, nothing written."""
    if not _TABLES:
        rows = await db.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migration' ORDER BY 1"
        )
        _TABLES.extend(r["tablename"] for r in rows)
    sql = " UNION ALL ".join(
        f"SELECT '{t}' AS t, count(*) AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h"
        f' FROM "{t}" x'
        for t in _TABLES
    )
    return {r["t"]: (int(r["n"]), str(r["h"])) for r in await db.fetch(sql)}


def changed(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))


def stranger(values: dict[str, str], names: list[str]) -> dict[str, str]:
    """`values` with the named ids replaced by ids that name nothing at all."""
    return values | {name: str(uuid4()) for name in names}
