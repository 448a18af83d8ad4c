"""What a rule-pack change does to a plan: the period's plan made with each pack's outcomes and policy, side by
side (visits, load against capacity, mandatory coverage, uncovered work, quotas per item and stratum, visits per
region, load per unit).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.grading import Grading
from engine.plan import Period, Plan, make_plan
from engine.planning import join_graded
from engine.planning import planning_columns as columns_of
from engine.progress import Progress, no_progress
from engine.whatif.packdiff import PackSide
from entities.errors import InputError
from entities.models import CheckItemCreate, ConflictCreate, InspectorCreate


@dataclass(frozen=True)
class PlanRequest:
    """The plan to make with each pack: the period and the seed."""

    period: Period
    seed: str


def planning_columns(grading: Grading) -> pl.DataFrame:
    """Per outcome the columns a plan reads, as engine.planning builds them from a stored grade run."""
    return columns_of(grading.pack, ((o.id, o.outputs, o.fired) for o in grading.outcomes))


def subjects_frame(
    features: pl.DataFrame, info: pl.DataFrame, outcome_ids: np.ndarray, grading: Grading, role: str
) -> pl.DataFrame:
    """One row per subject — features, region/name/address, the pack's planning outputs — from in-memory outcomes
    (engine.planning.subjects_for_plan builds the same frame from a stored grade run)."""
    results = pl.DataFrame({"uscc": features.get_column("uscc"), "_outcome": outcome_ids.astype(np.int64)})
    graded = join_graded(results, planning_columns(grading))
    missing = graded.get_column("credit_class").null_count()
    if missing:
        raise InputError(
            f"the {role} pack leaves {missing:,} subjects without a credit_class; a plan needs credit_class from "
            "every subject"
        )
    return features.join(info, on="uscc", how="inner").join(graded, on="uscc", how="inner").sort("uscc")


_PLAN_METRICS: tuple[tuple[str, str, str], ...] = (
    ("visits", "needed", "需要的入企检查 visits needed"),
    ("visits", "planned", "已安排入企检查 visits planned"),
    ("visits", "with_mandatory_items", "含必查事项的检查 visits with mandatory items"),
    ("visits", "subject_items", "主体-事项 subject-items"),
    ("team_load", "inspector_visits", "人员检查户次 inspector-visits"),
    ("team_load", "capacity", "人员能力 capacity"),
    ("team_load", "full", "满负荷人员 inspectors at capacity"),
    ("mandatory_coverage", "subjects_required", "必查主体 subjects with mandatory items"),
    ("mandatory_coverage", "subjects_fully_planned", "必查全部安排 mandatory fully planned"),
    ("mandatory_coverage", "subjects_partly_or_not_planned", "必查未全部安排 mandatory partly or not planned"),
    ("uncovered", "visits", "未覆盖入企检查 uncovered visits"),
    ("uncovered", "entries", "未覆盖记录 uncovered entries (a visit or some of its items)"),
    ("uncovered", "subject_items", "未覆盖主体-事项 uncovered subject-items"),
    ("uncovered", "mandatory_subject_items", "未覆盖必查事项 uncovered mandatory subject-items"),
    ("unstaffed", "entries", "无法组队记录 unstaffed entries (no valid team)"),
    ("repeat_visits", "rate", "重复入企率 repeat-visit rate"),
    ("repeat_visits", "random_rate", "随机事项重复入企率 repeat rate, random items"),
)


def _item_figures(summary: Mapping[str, Any], code: str) -> dict[str, Any] | None:
    for item in summary["items"]:
        if item["code"] == code:
            planned = summary["mandatory_coverage"]["items"].get(code, {}).get("planned", 0)
            return {
                "population": item["population"],
                "excluded": item["excluded"],
                "eligible": item["eligible"],
                "quota": item["quota"],
                "drawn": item["drawn_count"],
                "mandatory_required": item["mandatory_required"],
                "mandatory_planned": planned,
            }
    return None


def _strata(summary: Mapping[str, Any], code: str) -> dict[str, dict[str, Any]]:
    for item in summary["items"]:
        if item["code"] == code:
            return {s["stratum"]: s for s in item["strata"]}
    return {}


def plan_impact(
    old: Plan,
    new: Plan,
    inspectors: Sequence[InspectorCreate],
    regions_of: Mapping[str, str],
    region_names: Mapping[str, str],
) -> dict[str, Any]:
    """The two plans side by side: visits, load against capacity, mandatory coverage, uncovered work, repeat rate,
    quotas per item (and per stratum where they differ), visits per region and load per inspectors' unit."""
    a, b = old.summary(), new.summary()
    for summary, plan in ((a, old), (b, new)):  # entries count a visit once per dropped part: also count visits
        summary["uncovered"]["visits"] = len({d.visit for d in plan.uncovered})
    metrics = [
        {"key": f"{group}.{key}", "label": text, "old": a[group][key], "new": b[group][key]}
        for group, key, text in _PLAN_METRICS
    ]
    items = []
    names = {i["code"]: i["name"] for i in (*a["items"], *b["items"])}
    for code in sorted(names):
        fa, fb = _item_figures(a, code), _item_figures(b, code)
        entry: dict[str, Any] = {"code": code, "name": names[code], "old": fa, "new": fb, "changed": fa != fb}
        sa_, sb = _strata(a, code), _strata(b, code)
        entry["strata"] = [
            {
                "stratum": s,
                "old": {"population": sa_[s]["population"], "ratio": sa_[s]["ratio"], "quota": sa_[s]["quota"]}
                if s in sa_
                else None,
                "new": {"population": sb[s]["population"], "ratio": sb[s]["ratio"], "quota": sb[s]["quota"]}
                if s in sb
                else None,
            }
            for s in sorted(set(sa_) | set(sb))
            if (sa_.get(s) or {}).get("quota") != (sb.get(s) or {}).get("quota")
            or (sa_.get(s) or {}).get("ratio") != (sb.get(s) or {}).get("ratio")
        ]
        items.append(entry)

    per_region: dict[str, Counter[str]] = {}
    for side, plan in (("old", old), ("new", new)):
        for v in plan.visits:
            per_region.setdefault(v.region, Counter())[f"{side}_planned"] += 1
        for d in (*plan.uncovered, *plan.unstaffed):
            if d.code != "status":
                per_region.setdefault(regions_of.get(d.uscc, ""), Counter())[f"{side}_not_planned"] += 1
    regions = [
        {
            "code": code,
            "name": region_names.get(code, ""),
            **{
                k: per_region[code].get(k, 0)
                for k in ("old_planned", "new_planned", "old_not_planned", "new_not_planned")
            },
        }
        for code in sorted(per_region)
    ]

    unit_of = {i.id: i.unit for i in inspectors}
    units: dict[str, Counter[str]] = {}
    for side, plan in (("old", old), ("new", new)):
        for t in plan.team_load:
            if t.expert:
                continue
            u = units.setdefault(unit_of.get(t.id, "?"), Counter())
            u[f"{side}_visits"] += t.visits
            u[f"{side}_capacity"] += t.capacity
            if side == "old":
                u["inspectors"] += 1
    unit_rows = [
        {
            "unit": name,
            **{
                k: units[name].get(k, 0)
                for k in ("inspectors", "old_visits", "new_visits", "old_capacity", "new_capacity")
            },
        }
        for name in sorted(units)
    ]
    old_visited = {v.uscc for v in old.visits}
    new_visited = {v.uscc for v in new.visits}
    fit = fit_change(old, new)
    return {
        "period": {"label": old.period.label, "start": old.period.start.isoformat(), "end": old.period.end.isoformat()},
        "seed": old.seed,
        "headline": headline(fit) if fit is not None else None,
        "fit": fit,
        "metrics": metrics,
        "items": items,
        "regions": regions,
        "units": unit_rows,
        "subjects": {
            "visited_old": len(old_visited),
            "visited_new": len(new_visited),
            "only_old": len(old_visited - new_visited),
            "only_new": len(new_visited - old_visited),
        },
    }


def fit_change(old: Plan, new: Plan) -> dict[str, Any] | None:
    """How two fitted plans share capacity out: per layer demand, covered and shortfall old → new, λ old → new,
    and what is left out per kind of work (item or frequency domain). None unless both plans are fitted."""
    if old.fit is None or new.fit is None:
        return None
    layers = []
    for a, b in zip(old.fit["layers"], new.fit["layers"], strict=True):
        left: dict[str, dict[str, int]] = {}
        for side, layer in (("old", a), ("new", b)):
            for row in layer["left_out"]:
                for what in str(row["what"]).split("+") if layer["name"] == "frequency" else [row["what"]]:
                    left.setdefault(what, {"old": 0, "new": 0})[side] += row["visits"]
        layers.append(
            {
                "name": a["name"],
                **{
                    f"{k}_{side}": layer[k]
                    for side, layer in (("old", a), ("new", b))
                    for k in ("demand", "covered", "shortfall")
                },
                "left_out": dict(sorted(left.items())),
            }
        )
    return {
        "lambda_old": dict(old.fit["lambda"]),
        "lambda_new": dict(new.fit["lambda"]),
        "item_lambda_new": {p: dict(v) for p, v in (new.fit.get("item_lambda") or {}).items()},
        "layers": layers,
    }


def headline(fit: Mapping[str, Any]) -> str:
    """One sentence for the supervisor: what the change asks of the office and how its capacity absorbs it."""
    demand_old = sum(layer["demand_old"] for layer in fit["layers"])
    demand_new = sum(layer["demand_new"] for layer in fit["layers"])
    delta = demand_new - demand_old
    asks = (
        f"the change needs {delta:,} more visits"
        if delta > 0
        else f"the change needs {-delta:,} fewer visits"
        if delta < 0
        else "the change needs as many visits"
    ) + f" ({demand_old:,} → {demand_new:,} asked)"
    lam_old = ", ".join(f"{v}" if p == "*" else f"{p} {v}" for p, v in fit["lambda_old"].items())
    lam_new = ", ".join(f"{v}" if p == "*" else f"{p} {v}" for p, v in fit["lambda_new"].items())
    parts = [asks]
    if lam_old != lam_new:
        parts.append(f"capacity absorbs it by drawing at {lam_new} of the asked ratios instead of {lam_old}")
    else:
        parts.append(f"random draws stay at {lam_new} of the asked ratios")
    stopped = sorted({f"{i} {v}" for items in fit.get("item_lambda_new", {}).values() for i, v in items.items()})
    if stopped:
        parts[-1] += f" (higher where qualified capacity was left: {', '.join(stopped)})"
    for layer in fit["layers"]:
        if layer["name"] == "ratios" or not (layer["shortfall_old"] or layer["shortfall_new"]):
            continue
        worst = sorted(layer["left_out"].items(), key=lambda kv: (-kv[1]["new"], kv[0]))[:2]
        which = ", ".join(f"{k} {v['new']:,}" for k, v in worst if v["new"])
        parts.append(
            f"{layer['shortfall_new']:,} {layer['name']} visits are not covered (was {layer['shortfall_old']:,}"
            + (f"; {which}" if which else "")
            + ")"
        )
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def plans_side_by_side(
    features: pl.DataFrame,
    info: pl.DataFrame,
    sides: Sequence[tuple[str, PackSide, Grading, np.ndarray]],
    items: Sequence[CheckItemCreate],
    inspectors: Sequence[InspectorCreate],
    conflicts: Sequence[ConflictCreate],
    past: pl.DataFrame,
    *,
    request: PlanRequest,
    as_of: dt.date,
    regions: Sequence[str] | None,
    region_names: Mapping[str, str],
    progress: Progress = no_progress,
) -> tuple[dict[str, Any], tuple[Plan, Plan]]:
    """The period's plan made with each side's outcomes (`sides`: role, side, grading, every subject's outcome id)
    and policy, and plan_impact() of the two. `info` is uscc, region, name and address of the subjects."""
    plans: list[Plan] = []
    for n, (role, side, grading, ids) in enumerate(sides):
        progress("plans", n, len(sides))
        frame = subjects_frame(features, info, ids, grading, role)
        try:
            plans.append(
                make_plan(
                    frame,
                    list(items),
                    side.policy,
                    list(inspectors),
                    list(conflicts),
                    past,
                    seed=request.seed,
                    period=request.period,
                    as_of=as_of,
                    regions=list(regions) if regions else None,
                    fitted=True,
                )
            )
        except InputError as exc:
            raise InputError(f"{role} pack {side.directory}: {exc}") from None
    progress("plans", len(sides), len(sides))
    dropped = {d.uscc for p in plans for d in (*p.uncovered, *p.unstaffed)}
    regions_of = dict(info.filter(pl.col("uscc").is_in(sorted(dropped))).select("uscc", "region").iter_rows())
    return plan_impact(plans[0], plans[1], inspectors, regions_of, region_names), (plans[0], plans[1])
