"""5. Fuzzing: schemathesis over the live server's /schema/openapi.json, as a platform admin and as a resident.

Every operation of the document gets positive cases (data the schema allows) and negative ones (data it
forbids), sent over HTTP to `linli serve --workers 2`; path ids are real objects most of the time. No answer
may be a 5xx, and every answer must be one the document promises: its status code, content type, headers and
body (errors are problem+json). `--full` sends at least 5,000 requests a caller; the default run about 300.
"""

from __future__ import annotations

import asyncio
import math

from chaos.fuzz import Tally, fuzz, load_schema, operations, real_ids, seed_world
from chaos.results import Results

FULL_REQUESTS_A_CALLER = 5_000


def _summary(tally: Tally) -> str:
    return "\n".join(
        [
            f"{len(tally.server_errors)} 5xx:",
            *tally.server_errors[:20],
            f"{len(tally.violations)} violations:",
            *tally.violations[:40],
            f"{len(tally.no_answer)} without answer:",
            *tally.no_answer[:10],
        ]
    )


async def test_generated_requests_as_a_platform_admin_and_a_resident_get_no_5xx_and_only_documented_answers(
    client, live_server: str, full: bool, results: Results
):
    world = await seed_world(client)
    ids = await real_ids()
    schema = load_schema(live_server)
    ops = operations(schema)
    # Hypothesis stops early on operations with few distinct inputs (no parameters): ask for a little more.
    examples = math.ceil(FULL_REQUESTS_A_CALLER / (2 * len(ops)) * 1.3) if full else 1
    callers = {"admin": world.setup.platform.token, "resident": world.resident.token}
    tallies: dict[str, Tally] = {}
    for k, (role, token) in enumerate(callers.items()):
        # Blocking HTTP and Hypothesis: off the event loop the in-process client shares.
        tallies[role] = await asyncio.to_thread(fuzz, schema, live_server, token, ids, examples=examples, seed=k)

    admin, chen = tallies["admin"], tallies["resident"]
    by_status = admin.by_status + chen.by_status
    results.record(
        "fuzzing",
        requests_admin=admin.requests,
        requests_resident=chen.requests,
        operations=len(ops),
        answers_5xx=len(admin.server_errors) + len(chen.server_errors),
        schema_violations=len(admin.violations) + len(chen.violations),
        by_status=dict(sorted(by_status.items())),
        operations_answered_2xx_admin=len(admin.ok_operations),
        operations_answered_2xx_resident=len(chen.ok_operations),
        seconds=round(admin.seconds + chen.seconds, 1),
    )
    for role, tally in tallies.items():
        assert not tally.server_errors and not tally.violations and not tally.no_answer, f"{role}:\n{_summary(tally)}"
        if full:
            assert tally.requests >= FULL_REQUESTS_A_CALLER, (role, tally.requests)
    # Real ids reach the services: the admin, who may do most, gets a success from many operations, and the
    # resident from their own things (their bookings, notifications, volunteer records).
    assert len(admin.ok_operations) >= len(ops) // 4, sorted(admin.ok_operations)
    assert len(chen.ok_operations) >= 10, sorted(chen.ok_operations)
