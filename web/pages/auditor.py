"""The auditor's pages (H7: ledger, verify job, replay, redraws, trail). Placeholder from the web foundation: its owner replaces this file.

Paths are written in full (the app includes the router without a prefix); every route declares
`Depends(allow(Role.AUDITOR, …))`.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
NAV: list[tuple[str, str]] = []  # (label, path) links of this role's navigation, in order
