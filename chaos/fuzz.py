"""Schemathesis over the live API's own OpenAPI document, as one caller at a time, with real ids mixed in.

`seed_world` builds, through the API, one of everything a path can name (community, partner, offering, slot,
schedule, booking, complaint, volunteer, task, assignment, team, budget round and proposal, deposit); `real_ids`
then reads every id from the database by the path parameter's name, so a generated request names a real object
often enough to get past the 404 and reach the service. `fuzz` generates cases for every operation in positive
and negative mode (Hypothesis draws them; no shrinking: a failure is recorded, not raised), sends each to the
live server with the caller's token and runs schemathesis' response checks on the answer.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from linli import db
from tests.api import CommunitySetup, Person
from tests.marketplace_api import book, canteen, resident
from tests.partners_api import weekly_schedule
from tests.volunteers_api import accepted_offer, catalog, volunteer
from tests.welfare_api import FundSetup, deposit

# Every check that compares an answer with the document; `not_a_server_error` is the 5xx one.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# path (or body) parameter name -> where its real values live
ID_SOURCES: dict[str, str] = {
    "community_id": "SELECT id::text FROM communities",
    "user_id": "SELECT id::text FROM users",
    "partner_id": "SELECT id::text FROM partners",
    "offering_id": "SELECT id::text FROM offerings",
    "slot_id": "SELECT id::text FROM slots",
    "schedule_id": "SELECT id::text FROM schedules",
    "booking_id": "SELECT id::text FROM bookings",
    "order_id": "SELECT id::text FROM bookings",
    "complaint_id": "SELECT id::text FROM complaints",
    "notification_id": "SELECT id::text FROM notifications",
    "run_id": "SELECT id::text FROM settlement_runs",
    "disbursement_id": "SELECT id::text FROM welfare_disbursements",
    "transaction_id": "SELECT id::text FROM welfare_transactions",
    "round_id": "SELECT id::text FROM budget_rounds",
    "proposal_id": "SELECT id::text FROM budget_proposals",
    "volunteer_id": "SELECT id::text FROM volunteer_profiles",
    "certificate_id": "SELECT id::text FROM volunteer_service_certificates",
    "serial_no": "SELECT serial_no FROM volunteer_service_certificates",
    "team_id": "SELECT id::text FROM volunteer_teams",
    "offer_id": "SELECT id::text FROM volunteer_team_offers",
    "task_id": "SELECT id::text FROM volunteer_tasks",
    "assignment_id": "SELECT id::text FROM volunteer_assignments",
    "code": "SELECT DISTINCT code FROM volunteer_skills",
    "period": "SELECT DISTINCT period FROM welfare_transactions",
}


@dataclass
class World:
    setup: CommunitySetup
    resident: Person
    volunteer: Person


async def seed_world(client: Any) -> World:
    """One community with one of every kind of object, each made the way its users make it."""
    c = await canteen(client, name="模糊测试社区")
    setup = c.setup
    chen = await resident(client, setup, "陈阿婆", groups=["elderly"])
    r = await book(client, chen, c.slot_id)
    assert r.status_code == 201, r.text
    booking = r.json()
    await weekly_schedule(client, c.partner, c.offering["id"], valid_from=date.fromisoformat(c.slot["starts_at"][:10]))
    r = await client.post(
        "/api/v1/complaints", json={"booking_id": booking["id"], "content": "饭菜偏咸"}, headers=chen.headers
    )
    assert r.status_code == 201, r.text
    await catalog(client, setup)
    wang, _ = await volunteer(client, setup, "志愿者小王")
    await accepted_offer(client, setup, wang, starts_in=timedelta(hours=2))
    r = await client.post(
        "/api/v1/teams", json={"community_id": setup.id, "name": "党员志愿服务队"}, headers=wang.headers
    )
    assert r.status_code == 201, r.text
    fund = FundSetup(community=setup, resident=chen)
    r = await deposit(client, fund, 1_000_000)
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/communities/{setup.id}/budget-rounds",
        json={"title": "2026年百姓微实事", "budget_fen": 500_000},
        headers=setup.staff.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/budget-rounds/{r.json()['id']}/proposals",
        json={"title": "楼道加装声控灯", "description": "说明", "requested_fen": 300_000},
        headers=chen.headers,
    )
    assert r.status_code == 201, r.text
    return World(setup=setup, resident=chen, volunteer=wang)


async def real_ids() -> dict[str, list[str]]:
    ids = {}
    for name, sql in ID_SOURCES.items():
        values = [str(r[0]) for r in await db.fetch(sql + " LIMIT 50")]
        if values:
            ids[name] = values
    return ids


@dataclass
class Tally:
    """What one caller's fuzzing saw."""

    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    ok_operations: set[str] = field(default_factory=set)  # operations answered 2xx at least once
    server_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    no_answer: list[str] = field(default_factory=list)
    not_generated: list[str] = field(default_factory=list)
    seconds: float = 0.0


def load_schema(base_url: str) -> Any:
    schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
    return schema


def operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def _with_real_ids(case: Any, ids: dict[str, list[str]], rng: random.Random) -> None:
    """Most of the time, name real objects: in the path, and in the body's top-level `*_id` fields."""
    for name in list(case.path_parameters or {}):
        if name in ids and rng.random() < 0.75:
            case.path_parameters[name] = rng.choice(ids[name])
    if isinstance(case.body, dict):
        for name in list(case.body):
            if name in ids and rng.random() < 0.5:
                case.body[name] = rng.choice(ids[name])


def _describe(case: Any, response: Any, failures: FailureGroup | None = None) -> str:
    what = "; ".join(sorted({f.title for f in failures.exceptions})) if failures else ""
    body = response.content[:300].decode("utf-8", "replace") if response is not None else ""
    return f"{case.method} {case.formatted_path} -> {getattr(response, 'status_code', '?')} {what} {body}"


def fuzz(schema: Any, base_url: str, token: str, ids: dict[str, list[str]], *, examples: int, seed: int) -> Tally:
    """`examples` cases an operation and mode (fewer when Hypothesis runs out of distinct ones)."""
    tally = Tally()
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    session = requests.Session()
    t0 = time.monotonic()
    for operation in operations(schema):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(
                max_examples=examples,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
                derandomize=False,
            )
            @hypothesis.seed(seed)
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def one(case: Any) -> None:
                _with_real_ids(case, ids, rng)
                try:
                    response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
                except requests.RequestException as exc:
                    tally.no_answer.append(f"{case.method} {case.formatted_path}: {type(exc).__name__}")
                    return
                tally.requests += 1
                tally.by_status[response.status_code] += 1
                if response.status_code < 300:
                    tally.ok_operations.add(case.operation.label)
                if response.status_code >= 500:
                    tally.server_errors.append(_describe(case, response))
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except FailureGroup as failures:
                    if response.status_code < 500:
                        tally.violations.append(_describe(case, response, failures))

            try:
                one()
            except (hypothesis.errors.Unsatisfiable, hypothesis.errors.FailedHealthCheck) as exc:
                tally.not_generated.append(f"{operation.label} {mode.value}: {type(exc).__name__}")
            except Exception as exc:  # schemathesis refuses some (e.g. negative data for a parameterless route)
                if type(exc).__module__.startswith(("schemathesis", "hypothesis")):
                    tally.not_generated.append(f"{operation.label} {mode.value}: {type(exc).__name__}: {exc}"[:200])
                else:
                    raise
    tally.seconds = time.monotonic() - t0
    return tally
