"""The supervisor's JSON API (/api/…). Placeholder from the web foundation: its owner replaces this file."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
