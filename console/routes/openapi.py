"""The OpenAPI document, for signed-in users only (the API's shape is not public)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from console.deps import CurrentUser

router = APIRouter(prefix="/api", include_in_schema=False)


@router.get("/openapi.json")
def get_openapi(request: Request, _user: CurrentUser) -> dict[str, Any]:
    document: dict[str, Any] = request.app.openapi()
    return document
