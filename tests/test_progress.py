"""Long commands show a progress bar to a person at a terminal, and print nothing extra into a pipe or a log."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from typing import Any

from linli import db
from tests.conftest import process_env
from tests.harness import ROOT

# tqdm's bar when it ends: "<desc>: 100%|██████████| 5/5 [00:01<00:00, …]"
FINISHED = re.compile(r"(?P<desc>[\w.]+): 100%\|[^|]*\| (?P<done>\d+)/(?P<total>\d+) ")


def run_at_terminal(*args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run `python -m <args>` with stderr on a pseudo-terminal of 120 columns (as in a person's shell) and stdout
    piped; returns the process and what the terminal received."""
    leader, follower = pty.openpty()
    # A new terminal has no size, and tqdm draws nothing at 0 columns.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    chunks: list[bytes] = []

    def read() -> None:  # drained while the process runs: a full terminal buffer would block its writes
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the other end is closed and everything written was read
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", *args],
            env=process_env(),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=300,
        )
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    return proc, b"".join(chunks).decode(errors="replace")


def run_piped(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m <args>` with stdout and stderr piped, as in a log or CI."""
    return subprocess.run(
        [sys.executable, "-m", *args], env=process_env(), cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def finished_bars(terminal: str) -> list[dict[str, Any]]:
    return [m.groupdict() for m in FINISHED.finditer(terminal.replace("\r", "\n"))]


async def test_linli_demo_shows_its_steps_at_a_terminal_and_nothing_in_a_pipe():
    proc, terminal = run_at_terminal("server.cli", "demo")
    assert proc.returncode == 0, terminal
    assert "demo:" in proc.stdout
    # One step of the bar per step of the demo, all done.
    demo_bars = [b for b in finished_bars(terminal) if b["desc"] == "demo"]
    assert demo_bars and all(b["done"] == b["total"] and int(b["total"]) >= 2 for b in demo_bars), terminal
    assert "%|" not in proc.stdout

    # Piped (as in a log or CI): the same output and no bar anywhere.
    await db.execute("TRUNCATE communities CASCADE")
    piped = run_piped("server.cli", "demo")
    assert piped.returncode == 0, piped.stderr
    assert "demo:" in piped.stdout
    assert "%|" not in piped.stderr + piped.stdout


def test_a_bench_shows_its_phases_at_a_terminal_and_keeps_its_report_plain():
    proc, terminal = run_at_terminal("bench.matching", "--tasks", "30", "--volunteers", "300")
    assert proc.returncode == 0, terminal
    assert {"desc": "bench.matching", "done": "6", "total": "6"} in finished_bars(terminal)
    # The report itself is on stdout, unchanged by the bar.
    assert "solver / optimum" in proc.stdout
    assert "%|" not in proc.stdout

    piped = run_piped("bench.matching", "--tasks", "30", "--volunteers", "300")
    assert piped.returncode == 0
    assert "%|" not in piped.stderr
