"""The chaos run: the test suite's fixtures (tests/conftest.py) on a PostgreSQL cluster and a Redis of its own.

Before tests.conftest is imported (it reads LINLI_TEST_ADMIN_DSN / LINLI_TEST_REDIS_URL to pick its services and
sets the environment every live process inherits), a private cluster and Redis are started on free ports, so
the run may stop, kill and restart them without touching the machine's servers, which other tests use.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.results import Results
from chaos.services import ChaosRedis, PrivatePostgres

PG = PrivatePostgres()
PG.init()
PG.start()
atexit.register(PG.destroy)
REDIS = ChaosRedis(PG.root / "redis")
REDIS.start()
atexit.register(REDIS.stop)
os.environ["LINLI_TEST_ADMIN_DSN"] = PG.admin_dsn
os.environ["LINLI_TEST_REDIS_URL"] = REDIS.url

from tests.conftest import (  # noqa: E402, F401  (fixtures, registered by being imported here)
    app,
    clean_state,
    client,
    database,
    live_server,
    log_dir,
    start_worker,
)

logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request of a 10,000-request burst
RESULTS = Results(Path(__file__).resolve().parent / "results")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true", help="the issue's full figures (5,000 fuzzing requests a role)")


@pytest.fixture(scope="session")
def full(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--full"))


@pytest.fixture(scope="session")
def results() -> Results:
    return RESULTS


@pytest.fixture(scope="session")
def pg() -> PrivatePostgres:
    return PG


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ChaosRedis]:
    yield REDIS
    if REDIS.proc is None:  # a test left it down: the rest of the run needs it
        REDIS.start()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        module, _, test = report.nodeid.partition("::")
        RESULTS.outcome(module.removesuffix(".py"), test, report.outcome)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    RESULTS.write(full=bool(session.config.getoption("--full")))
