"""Who is running suijian, and in which role: from the environment or a config file.

SUIJIAN_USER / SUIJIAN_ROLE win; otherwise `[identity]` in the file named by SUIJIAN_CONFIG, else ./suijian.toml:

    [identity]
    user = "张三 (ZF4452030001)"
    role = "inspector"        # inspector | supervisor | auditor

The identity is declared, not authenticated (suijian has no accounts); it is what the ledger records as having
acted, and what decides which commands may run. A state-changing command without an identity is refused.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from entities.errors import Forbidden, InputError, UsageError


class Role(StrEnum):
    INSPECTOR = "inspector"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        return {"inspector": "检查人员", "supervisor": "监管负责人", "auditor": "审计人员"}[self.value]


# What each role may do. Reading (replay, verify, explain, exports, listings) needs no permission.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "init": frozenset({Role.SUPERVISOR}),
    "import": frozenset({Role.INSPECTOR, Role.SUPERVISOR}),
    "demo": frozenset({Role.INSPECTOR, Role.SUPERVISOR}),
    "grade": frozenset({Role.INSPECTOR, Role.SUPERVISOR}),
    "plan": frozenset({Role.INSPECTOR, Role.SUPERVISOR}),
    "redraw": frozenset({Role.SUPERVISOR}),
    "commit-seed": frozenset({Role.SUPERVISOR}),
    "preview": frozenset({Role.SUPERVISOR}),
    "publish": frozenset({Role.SUPERVISOR}),
}

_WHY = {
    "redraw": "a re-draw overrides a committed plan; only a supervisor may order one, with a reason",
    "commit-seed": "the seed commitment binds the next draw; only a supervisor makes it",
    "preview": "a draw is seen only once it is committed; previews are for supervisors and are recorded",
    "publish": "only a supervisor makes a rule pack the active version",
}


@dataclass(frozen=True)
class Identity:
    user: str
    role: Role

    def as_dict(self) -> dict[str, str]:
        return {"user": self.user, "role": self.role.value}

    def __str__(self) -> str:
        return f"{self.user} ({self.role.value})"


def _config(env: Mapping[str, str], cwd: Path) -> tuple[dict[str, object], str]:
    path = Path(env["SUIJIAN_CONFIG"]) if env.get("SUIJIAN_CONFIG") else cwd / "suijian.toml"
    if not path.exists():
        if env.get("SUIJIAN_CONFIG"):
            raise InputError(f"{path}: config file not found (SUIJIAN_CONFIG)")
        return {}, str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    section = data.get("identity", {})
    if not isinstance(section, dict):
        raise InputError(f"{path}: [identity] must be a table with user and role")
    return section, str(path)


def current(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Identity | None:
    """The configured identity, or None if there is none; a bad role or user is an InputError."""
    env = os.environ if env is None else env
    section, where = _config(env, cwd or Path.cwd())
    user = env.get("SUIJIAN_USER") or section.get("user")
    role = env.get("SUIJIAN_ROLE") or section.get("role")
    if user is None and role is None:
        return None
    source = "SUIJIAN_ROLE" if env.get("SUIJIAN_ROLE") else where
    if not isinstance(role, str) or role.strip().lower() not in {r.value for r in Role}:
        raise InputError(f"{source}: role {role!r} is not inspector, supervisor or auditor")
    if not isinstance(user, str) or not user.strip():
        raise InputError(f"{where}: a role without a user; set SUIJIAN_USER or user in [identity]")
    return Identity(user.strip(), Role(role.strip().lower()))


def require(action: str, identity: Identity | None = None, *, default: Identity | None = None) -> Identity:
    """The identity allowed to do `action`; no identity is a UsageError (exit 2), a wrong role Forbidden (exit 1)."""
    who = identity if identity is not None else current()
    if who is None:
        who = default
    if who is None:
        raise UsageError(
            f"`{action}` changes the store and needs to know who you are: set SUIJIAN_USER and "
            "SUIJIAN_ROLE (inspector, supervisor or auditor), or [identity] in suijian.toml"
        )
    allowed = PERMISSIONS[action]
    if who.role not in allowed:
        why = _WHY.get(action, "auditors are read-only" if who.role is Role.AUDITOR else "")
        roles = " or ".join(sorted(r.value for r in allowed))
        raise Forbidden(f"{who} may not {action}: needs {roles}" + (f" ({why})" if why else ""))
    return who
