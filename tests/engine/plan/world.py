"""Small planning worlds for the tests: a compact catalogue, subjects, a roster and past checks, all seeded."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import polars as pl

from engine.plan import Period, PlanPolicy, history_frame, make_plan, subjects_frame
from engine.plan.model import Plan
from entities.codes import uscc_check_digit
from entities.models import CheckItemCreate, ConflictCreate, InspectorCreate

SEED = "01382438112797316654"
AS_OF = dt.date(2025, 1, 2)
PERIOD = Period.year(2025)
COUNTY = "440111"


def item(code: str, **fields: Any) -> CheckItemCreate:
    base: dict[str, Any] = {
        "code": code,
        "name": f"{code} 的检查",
        "domain": "registration",
        "kind": "key",
        "initiating_department": "某科",
        "target": {},
        "method": "onsite",
        "legal_basis": f"《某条例》（{code}）",
        "contents": [f"{code} 内容一", f"{code} 内容二"],
        "required_qualifications": ["registration"],
        "joint_group": "onsite-general",
    }
    base.update(fields)
    return CheckItemCreate.model_validate(base)


def catalogue() -> list[CheckItemCreate]:
    """Four items over three joint groups, a general one among them."""
    return [
        item("REG-01", kind="general", target={"subject_kind": "enterprise", "status": "active"}),
        item(
            "FOOD-01",
            domain="food",
            target={"has_food_licence": True},
            required_qualifications=["food"],
            joint_group="food",
        ),
        item(
            "SE-01",
            domain="special_equipment",
            target={"equipment_count": {">": 0}},
            required_qualifications=["special_equipment"],
            joint_group="special-equipment",
        ),
        item(
            "PRICE-01",
            domain="pricing",
            kind="general",
            target={"industry_section": {"in": ["F", "H"]}},
            required_qualifications=["pricing"],
            joint_group=None,
        ),
    ]


def uscc(n: int) -> str:
    """A valid USCC (check digit included), so conflicts and other entities accept it."""
    first = f"91440111{n:09d}"
    return first + uscc_check_digit(first)


def subject_rows(n: int, rnd: random.Random, *, mandatory_share: float = 0.05) -> list[dict[str, Any]]:
    rows = []
    for k in range(n):
        mandatory = []
        if rnd.random() < mandatory_share:
            mandatory.append(("SE-01", "超期未检"))
        if rnd.random() < mandatory_share:
            mandatory.append(("FOOD-01", "D 级：年度必查"))
        rows.append(
            {
                "uscc": uscc(k),
                "region": f"{COUNTY}{rnd.randint(1, 3):03d}",
                "name": f"广州某某{k}有限公司",
                "address": f"白云区某路{k}号",
                "subject_kind": rnd.choice(["enterprise", "enterprise", "individual"]),
                "status": rnd.choice(["active"] * 18 + ["cancelled", "revoked"]),
                "industry_section": rnd.choice("CFHO"),
                "has_food_licence": rnd.random() < 0.3,
                "equipment_count": rnd.choice([0, 0, 0, 1, 4]),
                "credit_class": rnd.choice("AAABBBCD"),
                "whitelist": rnd.random() < 0.05,
                "food_grade": rnd.choice("ABCD"),
                "mandatory": mandatory,
                "risk": round(rnd.random(), 3),
            }
        )
    return rows


def subjects(n: int = 300, seed: int = 1, **kwargs: Any) -> pl.DataFrame:
    return subjects_frame(subject_rows(n, random.Random(seed), **kwargs))


QUALS = ["registration", "food", "special_equipment", "pricing"]


def roster(n: int = 24, seed: int = 1, capacity: int = 60, experts: int = 2) -> list[InspectorCreate]:
    rnd = random.Random(seed)
    out = []
    for k in range(n + experts):
        quals = sorted(set(rnd.sample(QUALS, rnd.choice([1, 1, 2]))))
        out.append(
            InspectorCreate(
                id=f"I{k:03d}",
                name=f"检查员{k}",
                unit="白云区市场监督管理局",
                region=COUNTY,
                certificate_no=None if k >= n else f"粤{k:05d}",
                qualifications=quals,
                capacity=capacity,
            )
        )
    return out


def conflicts(
    inspectors: list[InspectorCreate], frame: pl.DataFrame, n: int = 10, seed: int = 1
) -> list[ConflictCreate]:
    rnd = random.Random(seed)
    ids = frame["uscc"].to_list()
    pairs = {(rnd.choice(inspectors).id, rnd.choice(ids)) for _ in range(n)}
    return [ConflictCreate(inspector_id=i, uscc=u, reason="近亲属任职") for i, u in sorted(pairs)]


# Small random rosters and visits for Roster property tests (test_teams_lazy, test_teams_reference): two counties,
# some inspectors without a certificate (experts), 0–2 qualifications each, capacities 0..`most`.
ROSTER_COUNTIES = ("440111", "440112")


def random_roster(rnd: random.Random, n: int, most: int) -> list[InspectorCreate]:
    return [
        InspectorCreate(
            id=f"R{k:02d}",
            name=f"员{k}",
            unit="局",
            region=rnd.choice(ROSTER_COUNTIES),
            certificate_no=None if rnd.random() < 0.15 else f"C{k}",
            qualifications=rnd.sample(QUALS, rnd.randint(0, 2)),
            capacity=rnd.randint(0, most),
        )
        for k in range(n)
    ]


def random_conflicts(
    rnd: random.Random, inspectors: list[InspectorCreate], subjects: list[str]
) -> list[ConflictCreate]:
    return [
        ConflictCreate(inspector_id=rnd.choice(inspectors).id, uscc=rnd.choice(subjects), reason="亲属")
        for _ in range(rnd.randint(0, 40))
    ]


def random_visits(
    rnd: random.Random, n: int, subjects: list[str], townships: tuple[str, ...] = ("001",)
) -> list[tuple[str, str, list[tuple[str, dict[str, int]]]]]:
    """(township, uscc, [(item, needs)]) per visit: 1–3 items each needing 0–2 qualifications once or twice."""
    visits = []
    for _ in range(n):
        items = [
            (f"X{k}", {q: rnd.randint(1, 2) for q in rnd.sample(QUALS, rnd.randint(0, 2))})
            for k in range(rnd.randint(1, 3))
        ]
        county = rnd.choice(ROSTER_COUNTIES)
        township = townships[0] if len(townships) == 1 else rnd.choice(townships)  # one: no draw, as it was
        visits.append((county + township, rnd.choice(subjects), items))
    return visits


def history(frame: pl.DataFrame, inspectors: list[InspectorCreate], n: int = 60, seed: int = 1) -> pl.DataFrame:
    rnd = random.Random(seed)
    ids = frame["uscc"].to_list()
    certified = [i.id for i in inspectors if not i.is_expert]
    return history_frame(
        {
            "uscc": rnd.choice(ids),
            "checked_on": AS_OF - dt.timedelta(days=rnd.randint(0, 500)),
            "item_code": rnd.choice(["REG-01", "FOOD-01", "SE-01", None]),
            "kind": rnd.choice(["random", "random", "key", "post_licence"]),
            "lead_inspector": rnd.choice([*certified, None]),
        }
        for _ in range(n)
    )


def plan(
    frame: pl.DataFrame | None = None,
    items: list[CheckItemCreate] | None = None,
    policy: PlanPolicy | None = None,
    inspectors: list[InspectorCreate] | None = None,
    conflict_list: list[ConflictCreate] | None = None,
    past: pl.DataFrame | None = None,
    **kwargs: Any,
) -> Plan:
    frame = subjects() if frame is None else frame
    inspectors = roster() if inspectors is None else inspectors
    kwargs.setdefault("seed", SEED)
    kwargs.setdefault("period", PERIOD)
    kwargs.setdefault("as_of", AS_OF)
    return make_plan(
        frame,
        catalogue() if items is None else items,
        policy or PlanPolicy(),
        inspectors,
        [] if conflict_list is None else conflict_list,
        history_frame() if past is None else past,
        **kwargs,
    )
