"""The API's own account routes: who am I (for a token or a session)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from web.auth import Account, allow, identity_of

router = APIRouter()


@router.get("/api/whoami", summary="当前账号")
async def whoami(account: Account = Depends(allow())) -> dict[str, Any]:
    """The signed-in account (session or API token) and the identity the ledger records for it."""
    return {
        "ok": True,
        "account": {"name": account.name, "role": account.role.value, "display": account.display},
        "identity": identity_of(account).as_dict(),
    }
