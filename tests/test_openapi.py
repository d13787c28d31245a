"""An API client generated from /schema/openapi.json can rely on it: errors and downloads are as documented."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import jsonschema

from tests.api import sign_up

PROBLEM = "application/problem+json"
METHODS = ("get", "post", "put", "patch", "delete")
DOWNLOADS = (".ics", ".csv", ".xlsx", ".pdf", ".svg", "/csv", "/pdf")


async def _document(client: Any) -> dict[str, Any]:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, path, op) for path, item in document["paths"].items() for m, op in item.items() if m in METHODS]


async def test_every_operation_documents_its_errors_as_the_problems_it_answers(client):
    document = await _document(client)
    for method, path, op in _operations(document):
        for status in ("400", "401", "403", "404", "409", "422", "429", "503"):
            content = op["responses"].get(status, {}).get("content", {})
            assert list(content) == [PROBLEM], (method, path, status, content)
            assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
    # What the app really sends for an unknown partner and a bad body is what the document describes.
    problem = jsonschema.Draft202012Validator(
        {"$ref": "#/components/schemas/Problem", "components": document["components"]},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    me = await sign_up(client, "陈阿婆")
    missing = await client.get(f"/api/v1/partners/{uuid4()}", headers=me.headers)
    invalid = await client.post("/api/v1/communities", json={"name": ""}, headers=me.headers)
    for r, expected in ((missing, 404), (invalid, 422)):
        assert r.status_code == expected and r.headers["content-type"] == PROBLEM, r.text
        problem.validate(r.json())


async def test_every_download_documents_the_media_type_it_sends(client):
    document = await _document(client)
    downloads = [(m, path, op) for m, path, op in _operations(document) if path.endswith(DOWNLOADS)]
    assert len(downloads) >= 8, [path for _, path, _ in downloads]
    for method, path, op in downloads:
        success = next(v for k, v in op["responses"].items() if k.startswith("2"))
        assert "application/json" not in success.get("content", {}), (method, path, success)
