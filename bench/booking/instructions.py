"""Instructions per booking, linli against the raw baseline: `python -m bench.booking.instructions [--requests 600]`.

Requests/s and CPU time on a shared 2-core VM swing by 20–40 % within the hour; the instructions the API process
executes per booking do not (callgrind counts them: two runs agree within about 2 %). So this bench answers "did
this change make a booking cheaper?" where `bench.booking` cannot tell 3 % from the noise.

In one run it creates a scratch database, migrates and seeds it like `bench.booking`, then for each contender
(the real app from `server.app.create_app()`, and `bench.booking.baseline`) starts a process under
`valgrind --tool=callgrind` that drives the ASGI app in-process (no HTTP server, no load generator): 16
concurrent loops post bookings for random residents and slots, a warm-up first, then the measured requests with
callgrind's instrumentation switched on for them alone. The warm-up books once as every resident before drawing
them at random, so the measured bookings find every token verified and every caller known, as a server under
steady load does (a resident first seen while counting added one PyJWT verification and one `users` read).
PostgreSQL's work happens in its own processes and is not counted; every measured request must answer 201.
Needs valgrind (`apt-get install -y valgrind`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import uvloop

from bench.booking.__main__ import ROOT, migrated_env, seed
from bench.scratch import create_database, drop_database

CONTENDERS = ("linli", "baseline")


def _scope(body: bytes, token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/bookings",
        "raw_path": b"/api/v1/bookings",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer " + token.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }


def _receiver(body: bytes) -> Any:
    """An ASGI `receive` that delivers `body`, then waits forever (the app only asks again to watch for a
    disconnect)."""
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _count_instructions(on: bool) -> None:
    # Deliberately blocking: the whole process, event loop included, waits for callgrind to switch, so almost
    # nothing but the measured bookings is counted.
    subprocess.run(
        ["callgrind_control", f"--instr={'on' if on else 'off'}", str(os.getpid())], check=True, capture_output=True
    )


async def _drive(label: str, inputs: dict[str, Any], *, warm: int, requests: int, concurrency: int) -> dict[int, int]:
    """Runs inside the valgrind'ed process: lifespan, warm-up, measured bookings; returns the measured statuses."""
    if label == "baseline":
        from bench.booking.baseline import app
    else:
        from server.app import create_app

        app = create_app()
    tokens, slots = inputs["tokens"], inputs[f"{label}_slots"]
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def lifespan(message_type: str) -> None:
        await to_app.put({"type": message_type})
        answer = await from_app.get()
        if not answer["type"].endswith(".complete"):
            raise RuntimeError(f"{label}: {answer}")

    lifespan_task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, to_app.get, from_app.put)  # type: ignore[arg-type]
    )
    await lifespan("lifespan.startup")
    statuses: dict[int, int] = {}

    warm_tokens = list(tokens)  # every resident once first (see the module's docstring)

    async def book(left: list[int]) -> None:
        while left[0] > 0:
            left[0] -= 1
            body = json.dumps({"slot_id": random.choice(slots), "quantity": 1}).encode()
            token = warm_tokens.pop() if warm_tokens else random.choice(tokens)

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses[message["status"]] = statuses.get(message["status"], 0) + 1

            await app(_scope(body, token), _receiver(body), send)  # type: ignore[arg-type]

    async def run(count: int) -> None:
        left = [count]
        await asyncio.gather(*(book(left) for _ in range(concurrency)))

    await run(max(warm, len(tokens)))
    statuses.clear()
    _count_instructions(True)
    await run(requests)
    _count_instructions(False)
    await lifespan("lifespan.shutdown")
    await lifespan_task
    return statuses


def _measure(label: str, *, env: dict[str, str], inputs: Path, tmp: Path, args: argparse.Namespace) -> int:
    """Instructions counted for `args.requests` bookings of one contender (a valgrind'ed child process)."""
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={tmp / f'callgrind.{label}'}",
        sys.executable,
        "-m",
        "bench.booking.instructions",
        "--drive",
        label,
        "--inputs",
        str(inputs),
        "--warm",
        str(args.warm),
        "--requests",
        str(args.requests),
        "--concurrency",
        str(args.concurrency),
    ]
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    statuses = re.search(r"^statuses (.*)$", done.stdout, re.M)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or statuses is None or collected is None:
        raise RuntimeError(f"{label} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    answered = {int(k): v for k, v in json.loads(statuses.group(1)).items()}
    if answered != {201: args.requests}:
        raise RuntimeError(f"{label}: expected {args.requests} bookings, got statuses {answered}")
    return int(collected.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.booking.instructions", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="measured bookings per contender")
    parser.add_argument("--warm", type=int, default=300, help="bookings before counting starts")
    parser.add_argument("--concurrency", type=int, default=16, help="bookings in flight at once")
    parser.add_argument("--only", choices=CONTENDERS, help="count one contender (no ratio)")
    parser.add_argument("--drive", choices=CONTENDERS, help=argparse.SUPPRESS)  # the valgrind'ed child
    parser.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.drive:
        inputs = json.loads(args.inputs.read_text())
        statuses = uvloop.run(  # the event loop `linli serve` runs on (uvicorn[standard])
            _drive(args.drive, inputs, warm=args.warm, requests=args.requests, concurrency=args.concurrency)
        )
        print("statuses", json.dumps(statuses), flush=True)
        return 0

    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind not found: apt-get install -y valgrind", file=sys.stderr)
        return 2
    name = f"linli_bench_instr_{uuid.uuid4().hex[:8]}"
    dsn = asyncio.run(create_database(name))
    tmp = Path(tempfile.mkdtemp(prefix="linli-bench-instructions-"))
    try:
        env = migrated_env(dsn)
        # Enough places that no slot fills: every measured request is a real booking.
        tokens, app_slots, raw_slots = asyncio.run(seed(dsn, residents=300, slots=40, capacity=1_000_000))
        inputs = tmp / "inputs.json"
        inputs.write_text(json.dumps({"tokens": tokens, "linli_slots": app_slots, "baseline_slots": raw_slots}))
        labels = [args.only] if args.only else list(CONTENDERS)
        counts = {label: _measure(label, env=env, inputs=inputs, tmp=tmp, args=args) for label in labels}
    finally:
        asyncio.run(drop_database(name))
        shutil.rmtree(tmp, ignore_errors=True)

    per_booking = {label: count / args.requests for label, count in counts.items()}
    print(
        f"POST /api/v1/bookings driven in-process (ASGI, no server), {args.concurrency} in flight, "
        f"{args.requests} counted after {args.warm} warm-up bookings, callgrind"
    )
    for label, instructions in per_booking.items():
        print(f"{label:10} {instructions / 1e6:6.3f} M instructions per booking")
    if len(per_booking) == len(CONTENDERS):
        print(f"ratio baseline/linli: {per_booking['baseline'] / per_booking['linli']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
