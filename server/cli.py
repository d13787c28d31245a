"""`linli` command line: serve, worker, migrate, admin, demo."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence

from linli.settings import get_settings, reload_settings


def _ensure_services() -> None:
    """Start embedded PostgreSQL/Redis for whichever of DATABASE_URL/REDIS_URL is unset, and export them."""
    settings = get_settings()
    from linli import embedded

    if not settings.database_url:
        os.environ["DATABASE_URL"] = embedded.start_postgres(settings.data_dir)
    if not settings.redis_url:
        os.environ["REDIS_URL"] = embedded.start_redis(settings.data_dir)
    reload_settings()
    from linli import db

    db.configure(get_settings().database_url or "")


def _migrate() -> None:
    from linli import db

    asyncio.run(db.migrate())


async def _demo_accounts_present() -> list[tuple[str, str, str]]:
    """The demo's sign-ins, if the demo is loaded in this database (the banner offers nothing that won't work)."""
    import asyncpg

    from server.demo import demo_accounts

    accounts = demo_accounts()
    conn = await asyncpg.connect(get_settings().database_url)
    try:
        present = {
            r["phone"]
            for r in await conn.fetch("SELECT phone FROM users WHERE phone = ANY($1::text[])", [a[1] for a in accounts])
        }
    finally:
        await conn.close()
    return [a for a in accounts if a[1] in present]


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from linli.logging import configure_logging

    configure_logging()
    embedded = not (get_settings().database_url and get_settings().redis_url)
    _ensure_services()
    _migrate()
    # Every API process writes its metrics here and /metrics adds them up (linli.metrics); fresh for each run, and
    # set before anything imports prometheus_client (it picks file-backed values on import, so not via linli.metrics).
    metrics_dir = get_settings().data_dir / "prometheus" / f"api-{args.port}"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    worker: subprocess.Popen[bytes] | None = None
    if embedded or args.with_worker:
        # The worker needs its own event loop and connection pool, so it runs beside the API as a child
        # process that `serve` starts and stops: one command still gives a complete service.
        worker = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "worker"], env=os.environ | {"LINLI_PARENT_PID": str(os.getpid())}
        )
    # uvicorn re-raises the signal that stopped it; exiting through SystemExit lets the worker and the embedded
    # servers be stopped by the `finally` below and by atexit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from server.banner import banner, print_when_listening
    from server.http import GuardedHttpToolsProtocol

    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print_when_listening(
        host=args.host,
        port=args.port,
        text=banner(base_url=f"http://{shown_host}:{args.port}", accounts=asyncio.run(_demo_accounts_present())),
    )
    try:
        uvicorn.run(
            "server.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
            access_log=False,
            http=GuardedHttpToolsProtocol,
            timeout_keep_alive=get_settings().http_keep_alive_seconds,
        )
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = get_settings()
    if settings.worker_metrics_port:
        # Before anything imports prometheus_client (its values are file-backed only if the directory is set then).
        from workers.metrics import metrics_directory, prepare_directory

        prepare_directory(metrics_directory(settings.data_dir))
    import server.registry  # noqa: F401  (declares every actor)
    from linli.logging import configure_logging
    from workers.runtime import run_worker

    configure_logging()
    _ensure_services()
    run_worker(threads=args.threads, relay=not args.no_relay, scheduler=not args.no_scheduler)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    _ensure_services()
    _migrate()
    print("migrations applied")
    return 0


def cmd_admin_create(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from linli.auth.schemas import RegisterIn

    try:
        checked = RegisterIn(phone=args.phone, password=args.password, name=args.name)
    except ValidationError as exc:
        print(f"invalid input: {exc}", file=sys.stderr)
        return 2
    _ensure_services()
    _migrate()

    async def run() -> None:
        from linli import db
        from linli.auth import services

        await db.start_pool()
        try:
            async with db.unit_of_work():
                user = await services.create_platform_admin(
                    phone=checked.phone, password=checked.password, name=checked.name
                )
            print(f"platform admin {user.name} ({user.phone}) id={user.id}")
        finally:
            await db.close_pool()

    asyncio.run(run())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    _ensure_services()
    _migrate()
    from server.demo import load_demo

    asyncio.run(load_demo(if_empty=args.if_empty))
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    _ensure_services()
    from welfare.services.reconcile import run_cli

    return asyncio.run(run_cli(community=args.community, period=args.period))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linli", description="邻里 Linli community services backend")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (starts embedded PostgreSQL/Redis and a worker if unset)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="API processes")
    serve.add_argument("--with-worker", action="store_true", help="also run a worker with configured servers")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run Dramatiq actors, the outbox relay and the scheduler")
    worker.add_argument("--threads", type=int, default=4)
    worker.add_argument("--no-relay", action="store_true")
    worker.add_argument("--no-scheduler", action="store_true")
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply every package's migrations")
    migrate.set_defaults(func=cmd_migrate)

    admin = sub.add_parser("admin", help="platform administration")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create", help="create (or promote) a platform admin")
    create.add_argument("--phone", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--name", required=True)
    create.set_defaults(func=cmd_admin_create)

    demo = sub.add_parser("demo", help="load a realistic demo community")
    demo.add_argument("--if-empty", action="store_true", help="only when no community exists yet")
    demo.set_defaults(func=cmd_demo)

    reconcile = sub.add_parser("reconcile", help="prove the welfare ledger equals its sources for a period")
    reconcile.add_argument("--community", required=True, help="community id")
    reconcile.add_argument("--period", required=True, help="YYYY-MM")
    reconcile.set_defaults(func=cmd_reconcile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
