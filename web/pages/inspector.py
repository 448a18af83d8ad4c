"""The inspector's pages (H6: 我的任务, the subject page, the result form, overdue). Placeholder from the web foundation: its owner replaces this file.

Paths are written in full (the app includes the router without a prefix); every route declares
`Depends(allow(Role.INSPECTOR, …))`.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
NAV: list[tuple[str, str]] = []  # (label, path) links of this role's navigation, in order
