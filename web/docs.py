"""The JSON API's description: OpenAPI at /api/openapi.json (FastAPI's), and a page at /api/docs rendered here from
it. FastAPI's own docs pages load Swagger UI from a CDN, which an office network without internet cannot reach, so
they are switched off (create_app) and this page needs no asset but the app's own stylesheet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from web.auth import signed_in
from web.templating import render

router = APIRouter()
METHODS = ("get", "post", "put", "patch", "delete")


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Each API operation: method, path, summary, parameters (name, where, required) and whether it has a body."""
    found = []
    for path, item in sorted(spec.get("paths", {}).items()):
        if not path.startswith("/api/"):
            continue
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            found.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [
                        {"name": p["name"], "in": p["in"], "required": p.get("required", False)}
                        for p in op.get("parameters", [])
                    ],
                    "body": "requestBody" in op,
                }
            )
    return found


@router.get("/api/docs", summary="API 说明", include_in_schema=False)
async def api_docs(request: Request) -> Response:
    found = await signed_in(request)
    return render(request, "api_docs.html", account=found.account, operations=operations(request.app.openapi()))
