from typing import Any

from litestar import Controller, Request, Response, get

from linli import db
from linli.errors import problem
from linli.redis import redis_client


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    include_in_schema = True

    @get("/live", public=True)
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", public=True)
    async def ready(self, request: Request) -> Response[dict[str, Any]]:
        checks: dict[str, str] = {}
        try:
            await db.fetchval("SELECT 1")
            checks["postgres"] = "ok"
        except Exception as exc:
            checks["postgres"] = f"down: {type(exc).__name__}"
        try:
            await redis_client().ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"down: {type(exc).__name__}"
        if all(v == "ok" for v in checks.values()):
            return Response({"status": "ok", "checks": checks})
        return problem(request, "service_unavailable", status=503, extra={"checks": checks})
