"""Catalog search at scale: `python -m bench.search [--offerings 100000] [--requests 200] [--keep]`.

Creates a scratch database, migrates it, bulk-loads (COPY) a street's worth of synthetic offerings with real
search text (pypinyin) and some slots, then for several queries measures in one run:
  * the search endpoint `GET /api/v1/offerings` through the real app (in process, over ASGI),
  * the same SQL statement (`partners.catalog.catalog_sql`) on bare asyncpg — the raw baseline,
prints p50/p95 of each and the ratio, and checks with EXPLAIN that each text query is served by an index
(no sequential scan of `offerings`). Needs PostgreSQL (`LINLI_BENCH_ADMIN_DSN`, default local postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench import progress
from bench.scratch import create_database, drop_database

PREFIXES = [
    "爱心",
    "长者",
    "普惠",
    "社区",
    "邻里",
    "便民",
    "幸福",
    "阳光",
    "暖心",
    "惠民",
    "红帆",
    "椰城",
    "和美",
    "安康",
]
SERVICES = [
    ("食堂午餐", "meal"),
    ("营养早餐", "meal"),
    ("助餐配送", "meal"),
    ("托育全日班", "childcare"),
    ("托育半日班", "childcare"),
    ("日间照料", "elderly_daycare"),
    ("助浴服务", "elderly_daycare"),
    ("家政保洁", "housekeeping"),
    ("月嫂护理", "housekeeping"),
    ("快递代收", "parcel"),
    ("家电维修", "repair"),
    ("水电维修", "repair"),
    ("健康义诊", "health"),
    ("康复理疗", "health"),
    ("理发修面", "other"),
    ("法律咨询", "other"),
]
SUFFIXES = ["", "A套餐", "B套餐", "周末班", "上门", "体验", "月卡", "次卡", "特惠"]
PHRASES = [
    "两荤一素一汤",
    "少油少盐适合老人",
    "专业持证人员服务",
    "预约后准时上门",
    "每周一至周五开放",
    "环境整洁安全放心",
    "支持时间银行积分",
    "重点人群享受补贴",
    "由社区合伙人提供",
    "价格公开透明",
]
NAME_CHARS = "华兴旺福康宁顺和美乐安泰丰盛源德隆昌荣嘉佳信诚"


def queries() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("Chinese 2 chars  q=食堂", {"q": "食堂"}),
        ("Chinese 4 chars  q=爱心食堂", {"q": "爱心食堂"}),
        ("description      q=少油少盐", {"q": "少油少盐"}),
        ("pinyin           q=aixin", {"q": "aixin"}),
        ("initials         q=axst", {"q": "axst"}),
        ("rare             q=法律咨询特惠", {"q": "法律咨询特惠"}),
        ("category         category=repair", {"category": "repair"}),
        ("q + category     q=维修&category=repair", {"q": "维修", "category": "repair"}),
    ]


async def seed(dsn: str, n_offerings: int, rng: random.Random) -> None:
    from partners import search_text

    conn = await asyncpg.connect(dsn)
    try:
        user_id, community_id = uuid.uuid4(), uuid.uuid4()
        await conn.execute(
            "INSERT INTO users (id, phone, name, password_hash, is_platform_admin, created_at)"
            " VALUES ($1, '13900000000', '压测', 'x', false, now())",
            user_id,
        )
        await conn.execute(
            "INSERT INTO communities (id, name, timezone, street, created_at)"
            " VALUES ($1, '压测社区', 'Asia/Shanghai', '', now())",
            community_id,
        )
        n_partners = max(1, n_offerings // 50)
        partners = []
        for _ in range(n_partners):
            name = "".join(rng.choice(NAME_CHARS) for _ in range(2)) + rng.choice(["社区服务站", "便民店", "服务中心"])
            status = "approved" if rng.random() < 0.95 else "suspended"
            partners.append((uuid.uuid4(), community_id, name, "other", status, "", "", user_id))
        await conn.copy_records_to_table(
            "partners",
            records=partners,
            columns=["id", "community_id", "name", "kind", "status", "description", "contact_phone", "created_by"],
        )
        now = datetime.now(UTC)
        rows = []
        for i in range(n_offerings):
            pid, _, pname, *_ = partners[i % n_partners]
            service, category = rng.choice(SERVICES)
            title = rng.choice(PREFIXES) + service + rng.choice(SUFFIXES)
            description = "".join(rng.sample(PHRASES, 2))
            status = "published" if rng.random() < 0.9 else rng.choice(["draft", "paused", "archived"])
            rows.append(
                (
                    uuid.uuid4(),
                    pid,
                    community_id,
                    title,
                    category,
                    description,
                    rng.choice([500, 1000, 1500, 3000, 12000]),
                    '{"elderly": 500}' if rng.random() < 0.3 else "{}",
                    status,
                    search_text.search_text(title, description, pname),
                    search_text.search_grams(title, description, pname),
                    now - timedelta(seconds=i),
                    now - timedelta(seconds=i),
                )
            )
        # Bulk load without the search indexes, then rebuild them exactly as the migrations defined them.
        names = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'offerings'"
            " AND indexname LIKE 'offerings_%' AND indexname NOT LIKE '%pkey'"
        )
        index_defs = [r["indexdef"] for r in names]
        for r in names:
            await conn.execute(f'DROP INDEX "{r["indexname"]}"')
        await conn.copy_records_to_table(
            "offerings",
            records=rows,
            columns=[
                "id",
                "partner_id",
                "community_id",
                "title",
                "category",
                "description",
                "price_fen",
                "subsidies",
                "status",
                "search_text",
                "search_grams",
                "created_at",
                "updated_at",
            ],
        )
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for ddl in index_defs:
            await conn.execute(ddl)
        # A slot tomorrow for a fifth of the offerings, so availability filters have something to find.
        slots = []
        tomorrow = now + timedelta(days=1)
        for o in rows[::5]:
            slots.append(
                (uuid.uuid4(), o[0], o[1], community_id, tomorrow, tomorrow + timedelta(hours=1), 10, 0, "open")
            )
        await conn.copy_records_to_table(
            "slots",
            records=slots,
            columns=[
                "id",
                "offering_id",
                "partner_id",
                "community_id",
                "starts_at",
                "ends_at",
                "capacity",
                "booked",
                "status",
            ],
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(n: int, call: Any) -> list[float]:
    for _ in range(5):
        await call()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def run(n_offerings: int, n_requests: int, keep: bool, seed_value: int) -> int:
    name = f"linli_bench_search_{os.getpid()}"
    dsn = await create_database(name)
    os.environ["DATABASE_URL"] = dsn
    os.environ.setdefault("LINLI_LOG_LEVEL", "WARNING")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from linli import db
    from linli.settings import reload_settings

    reload_settings()
    db.configure(dsn)
    failures = 0
    try:
        print(f"database {name}: migrating …", flush=True)
        await db.migrate()
        t0 = time.perf_counter()
        await seed(dsn, n_offerings, random.Random(seed_value))
        print(f"seeded {n_offerings:,} offerings (COPY) in {time.perf_counter() - t0:.1f}s", flush=True)

        import httpx

        from partners.catalog import CatalogQuery, catalog_sql
        from server.app import create_app

        await db.start_pool()
        app = create_app()
        raw = await asyncpg.connect(dsn)
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            heads = ("hits", "api p50", "api p95", "raw p50", "raw p95", "p50 ratio")
            print(f"\n{'query':<38} {heads[0]:>7} " + " ".join(f"{h:>8}" for h in heads[1:]) + "  index")
            shown = progress.bar(total=len(queries()), desc="bench.search", unit="query")
            for label, params in queries():
                shown.set_postfix_str(label)
                sql, args = catalog_sql(CatalogQuery(**params))

                async def api_call(params: dict[str, Any] = params) -> Any:
                    r = await client.get("/api/v1/offerings", params=params)
                    assert r.status_code == 200, r.text
                    return r.json()

                async def raw_call(sql: str = sql, args: list[Any] = args) -> Any:
                    return await raw.fetch(sql, *args)

                hits = (await api_call())["total"]
                api = await measure(n_requests, api_call)
                base = await measure(n_requests, raw_call)
                plan = "\n".join(r[0] for r in await raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args))
                used = [
                    ix for ix in ("offerings_search_grams", "offerings_search_trgm", "offerings_catalog") if ix in plan
                ]
                seq = "Seq Scan on offerings" in plan
                if "q" in params and (seq or not used):
                    failures += 1
                ratio = statistics.median(base) / statistics.median(api)
                progress.say(
                    f"{label:<38} {hits:>7,} {statistics.median(api):>7.1f}ms {pct(api, 95):>7.1f}ms"
                    f" {statistics.median(base):>7.1f}ms {pct(base, 95):>7.1f}ms {ratio:>9.2f}"
                    f"  {', '.join(used) or '-'}{' SEQ SCAN' if seq else ''}"
                )
                shown.update()
            shown.close()
        await raw.close()
        print("\nratio = raw p50 / api p50 (1.0 = the API adds nothing over the bare SQL).")
        print(
            "EXPLAIN: every text query served by an index"
            if not failures
            else f"EXPLAIN: {failures} text queries NOT indexed"
        )
    finally:
        await db.close_pool()
        if keep:
            print(f"kept database {name}")
        else:
            await drop_database(name)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.splitlines()[0])
    parser.add_argument("--offerings", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per query (after 5 warm-ups)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    code = asyncio.run(run(args.offerings, args.requests, args.keep, args.seed))
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
