"""Who is running suijian, and in which role: from the environment or a config file.

SUIJIAN_USER / SUIJIAN_ROLE win; otherwise `[identity]` in the file named by SUIJIAN_CONFIG, else ./suijian.toml:

    [identity]
    user = "张三 (ZF4452030001)"
    role = "inspector"        # inspector | supervisor | auditor, or 检查人员 | 监管负责人 | 审计人员

The identity is declared, not authenticated (suijian has no accounts); it is what the ledger records as having
acted, and what decides which commands may run. A state-changing command without an identity is refused with one
line (exit 1); a role that may not do something is refused with one line naming the role, why, and whom to ask (exit 1).
Each of user and role comes from the environment if set there, else from the file. `suijian demo` runs as a
supervisor because it replaces the store's data and re-draws its plan when the data changed; an inspector
cannot reach a re-draw through it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from entities.errors import Forbidden, InputError, NoIdentity


class Role(StrEnum):
    INSPECTOR = "inspector"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        return _LABELS[self.value]

    @classmethod
    def parse(cls, text: str) -> Role | None:
        """The role a user wrote, in English (any case) or Chinese as the README's role table names it; None if none."""
        word = text.strip()
        for role in cls:
            if word.lower() == role.value or word == role.label:
                return role
        return None


_LABELS = {"inspector": "检查人员", "supervisor": "监管负责人", "auditor": "审计人员"}
ROLE_NAMES = "inspector, supervisor or auditor (or 检查人员, 监管负责人, 审计人员)"


# What each role may do. Reading (replay, verify, explain, exports, listings) needs no permission.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "init": frozenset({Role.SUPERVISOR}),
    "import": frozenset({Role.INSPECTOR, Role.SUPERVISOR}),
    "demo": frozenset({Role.SUPERVISOR}),
    "grade": frozenset({Role.INSPECTOR, Role.SUPERVISOR}),
    "plan": frozenset({Role.SUPERVISOR}),
    "redraw": frozenset({Role.SUPERVISOR}),
    "commit-seed": frozenset({Role.SUPERVISOR}),
    "preview": frozenset({Role.SUPERVISOR}),
    "propose": frozenset({Role.SUPERVISOR}),
    "approve": frozenset({Role.SUPERVISOR}),
    "publish": frozenset({Role.SUPERVISOR}),
    "record results": frozenset({Role.INSPECTOR, Role.SUPERVISOR}),
    "publish results": frozenset({Role.SUPERVISOR}),
    "propose follow-ups": frozenset({Role.INSPECTOR, Role.SUPERVISOR}),
    "decide follow-ups": frozenset({Role.SUPERVISOR}),
}

_WHY = {
    "init": "creating or upgrading the store's schema is a supervisor's decision",
    "demo": "it replaces the store's data and may re-draw its plan",
    "redraw": "a committed plan is final; a re-draw overrides it and needs a reason",
    "commit-seed": "a seed commitment binds the next draw",
    "preview": "a draw is seen before it is committed only by supervisors, and that is recorded",
    "plan": "drawing a plan binds the year's inspections; it is a supervisor's act",
    "propose": "a rule-pack change is proposed by a supervisor and approved by a second one",
    "approve": "a rule-pack change is approved by a second supervisor (four eyes)",
    "publish": "publishing makes a rule pack the active version",
    "publish results": "公示 of results is the authority's act, taken by a supervisor",
    "decide follow-ups": "listing a subject or opening a case is a supervisor's decision",
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
        raise InputError(
            f"{path}: not valid TOML ({str(exc).splitlines()[0]}); fix the file or unset SUIJIAN_CONFIG"
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    section = data.get("identity", {})
    if not isinstance(section, dict):
        raise InputError(f"{path}: [identity] must be a table with user and role")
    return section, str(path)


def current(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Identity | None:
    """The configured identity, or None if there is none; a bad role or user is an InputError."""
    env = os.environ if env is None else env
    section, where = _config(env, cwd or Path.cwd())
    user, user_from = (env["SUIJIAN_USER"], "SUIJIAN_USER") if env.get("SUIJIAN_USER") else (section.get("user"), where)
    role, role_from = (env["SUIJIAN_ROLE"], "SUIJIAN_ROLE") if env.get("SUIJIAN_ROLE") else (section.get("role"), where)
    if user is None and role is None:
        return None
    if role is None:
        raise InputError(
            f"{user_from} names a user but no role: set SUIJIAN_ROLE (or role in [identity]) to {ROLE_NAMES}"
        )
    parsed = Role.parse(role) if isinstance(role, str) else None
    if parsed is None:
        raise InputError(f"{role_from}: role {role!r} is not {ROLE_NAMES}")
    if user is None:
        raise InputError(f"{role_from} names a role but no user: set SUIJIAN_USER (or user in [identity])")
    if not isinstance(user, str) or not user.strip() or any(not c.isprintable() for c in user.strip()):
        raise InputError(f'{user_from}: user {user!r} must be a name on one line, e.g. "张三 (ZF4452030001)"')
    return Identity(user.strip(), parsed)


def require(action: str, identity: Identity | None = None, *, default: Identity | None = None) -> Identity:
    """The identity allowed to do `action`; no identity is NoIdentity, a wrong role Forbidden (both exit 1)."""
    who = identity if identity is not None else current()
    if who is None:
        who = default
    if who is None:
        raise NoIdentity(
            f"`{action}` changes the store and needs to know who you are: set SUIJIAN_USER and "
            "SUIJIAN_ROLE (inspector, supervisor, auditor, or 检查人员, 监管负责人, 审计人员), or [identity] in suijian.toml"
        )
    allowed = PERMISSIONS[action]
    if who.role not in allowed:
        why = "auditors are read-only" if who.role is Role.AUDITOR else _WHY.get(action)
        roles = " or ".join(r.value for r in Role if r in allowed)
        raise Forbidden(f"{who} may not {action}: needs {roles}" + (f" ({why})" if why else ""))
    return who
