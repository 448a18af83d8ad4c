"""How fast a plan is made at district and city scale, and what it shows when capacity runs short.

Two modes:
  python bench/plan.py --from-store --profile jiedong|baiyun|guangzhou [--db URL] [--cprofile 30]
      end to end from a store, as `suijian plan` runs it: the fitted planner and the unfitted plan/1 planner
      (the baseline) each in its own process, stage by stage; see bench/plan_store.py.
  python bench/plan.py [--profile baiyun|guangzhou|both] [--baseline-sample 20000]
      synthetic frames, no store (below).

Synthetic mode:
Builds synthetic frames itself (numpy, fixed seed; no store, no generator): subjects with the features the
national catalogue's targets read, credit classes, food grades, mandatory work and risk; an inspector roster
with qualifications and capacity; a past-check history. Sizes follow shared/domain/districts.md:
  baiyun     470,700 subjects (55 % enterprises), 9,641 special-equipment user units, 1,300 inspectors of whom
             40 hold the special-equipment qualification at 50 visits a year: ≈ 1,000 two-person unit checks a
             year, the district's real field capacity, against ≈ 2,700 mandatory unit checks (overdue equipment
             and 重点单位) — the plan must report the shortfall;
  guangzhou  3.3 M subjects in 11 districts, ≈ 67,000 user units, 9,400 inspectors.
Times make_plan (and to_json) and prints the figures plus peak RSS. The baseline is a naive planner measured in
the same run: a per-subject Python loop (target test, one `ticket()` call per subject, sort per stratum) on
--baseline-sample subjects (best of two runs), extrapolated linearly to the profile's size; it covers the draw
stage only (no exclusions by history, no merging, no teams), so it understates what a naive planner would cost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import plan_store  # noqa: E402
from engine.catalogue import load_catalogue  # noqa: E402
from engine.plan import ItemPolicy, Period, PlanPolicy, history_frame, make_plan  # noqa: E402
from engine.plan.select import target_expr  # noqa: E402
from engine.sampling import quota, ticket  # noqa: E402
from entities.models import CheckItemCreate, ConflictCreate, InspectorCreate  # noqa: E402

SEED = "31415926535897932384626433"
AS_OF = dt.date(2025, 1, 2)
PERIOD = Period.year(2025)

PROFILES: dict[str, dict[str, Any]] = {
    "baiyun": {
        "subjects": 470_700,
        "counties": {"440111": 1.0},
        "towns": 24,
        "units": 9_641,
        "overdue": 0.03,
        "inspectors": 1_300,
        "se_inspectors": 40,
        "experts": 30,
    },
    "guangzhou": {
        "subjects": 3_300_000,
        # 2020 census population per district, rounded (as engine/synth/profiles.py weighs them).
        "counties": {
            "440103": 1.24,
            "440104": 1.06,
            "440105": 1.78,
            "440106": 2.24,
            "440111": 3.74,
            "440112": 1.27,
            "440113": 2.80,
            "440114": 1.10,
            "440115": 0.89,
            "440117": 0.65,
            "440118": 1.14,
        },
        "towns": 20,
        "units": 67_000,
        "overdue": 0.01,
        "inspectors": 9_400,
        "se_inspectors": 280,
        "experts": 200,
    },
}

# The bench's policy: the defaults, plus local ratios for the items whose C/D 100 % would be unrealistic.
POLICY = PlanPolicy(
    items={
        "CP-CJ-01": ItemPolicy(ratios={"A": "1%", "B": "2%", "C": "5%", "D": "10%"}),
        "CP-ZL-01": ItemPolicy(ratios={"A": "3%", "B": "5%", "C": "20%", "D": "100%"}),
        "SP-CY-01": ItemPolicy(
            grade_column="food_grade",
            grade_ratios={"A": "2%", "B": "5%", "C": "30%", "D": "100%", "none": "5%"},
        ),
        "SP-XS-01": ItemPolicy(
            grade_column="food_grade",
            grade_ratios={"A": "2%", "B": "5%", "C": "30%", "D": "100%", "none": "5%"},
        ),
    },
)


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def reset_peak_rss() -> bool:
    """Start the peak-RSS count afresh (Linux: writing 5 to clear_refs resets VmHWM), so a step's peak is its own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def pick(rng: np.random.Generator, n: int, shares: dict[str, float]) -> np.ndarray:
    values = list(shares)
    p = np.array([shares[v] for v in values], dtype=float)
    return np.array(values, dtype=object)[rng.choice(len(values), size=n, p=p / p.sum())]


def build_subjects(profile: dict[str, Any], rng: np.random.Generator) -> pl.DataFrame:
    n = profile["subjects"]
    counties = profile["counties"]
    county = pick(rng, n, counties)
    town = rng.integers(1, profile["towns"] + 1, size=n)
    kind = pick(rng, n, {"enterprise": 0.545, "individual": 0.45, "cooperative": 0.005})
    status = pick(
        rng,
        n,
        {"active": 0.962, "cancelled": 0.03, "moved_out": 0.005, "revoked": 0.0028, "annulled": 0.0002},
    )
    section = pick(
        rng,
        n,
        {"C": 0.14, "F": 0.36, "H": 0.10, "O": 0.08, "L": 0.12, "I": 0.06, "M": 0.06, "E": 0.04, "R": 0.04},
    )
    credit = pick(rng, n, {"A": 0.60, "B": 0.30, "C": 0.08, "D": 0.02})
    food = rng.random(n)
    has_food = food < 0.088
    food_kind = np.where(food < 0.004, "production", np.where(food < 0.046, "trade", "catering"))
    food_grade = pick(rng, n, {"A": 0.20, "B": 0.50, "C": 0.25, "D": 0.05})
    device = rng.random(n)
    # Equipment user units: the first `units` of a random permutation.
    units = np.zeros(n, dtype=np.int64)
    unit_rows = rng.permutation(n)[: profile["units"]]
    units[unit_rows] = rng.integers(1, 12, size=len(unit_rows))
    overdue = np.zeros(n, dtype=bool)
    overdue[unit_rows] = rng.random(len(unit_rows)) < profile["overdue"]
    public = np.zeros(n, dtype=bool)
    public[unit_rows] = rng.random(len(unit_rows)) < 0.25  # 重点单位: schools, hospitals, malls, stations…
    frame = pl.DataFrame(
        {
            "n": np.arange(n),
            "county": county.astype(str),
            "town": town,
            "subject_kind": kind.astype(str),
            "status": status.astype(str),
            "industry_section": section.astype(str),
            "credit_class": credit.astype(str),
            "has_food_licence": has_food,
            "food_kind": food_kind,
            "food_grade_all": food_grade.astype(str),
            "has_device_business": device < 0.007,
            "device_producer": device < 0.0005,
            "equipment_count": units,
            "overdue": overdue,
            "public": public,
            "risk": rng.random(n).round(4),
            "whitelist": rng.random(n) < 0.003,
            # Features the 2026 catalogue's targets read (assumed shares, not from districts.md): on the 经营异常名录
            # as unreachable at the registered address 3 %; an industrial-product production licence for 2 % of
            # manufacturers (section C), the few product kinds still licensed since the 2019 catalogue cut.
            "abnormal_unreachable": rng.random(n) < 0.03,
            "licensed_maker": (section == "C") & (rng.random(n) < 0.02),
        }
    )
    se_reason = (
        pl.when(pl.col("overdue"))
        .then(pl.lit("超期未检设备：限期整改复查"))
        .otherwise(pl.lit("重点单位（公众聚集场所）：年度必查"))
    )
    food_due = pl.col("has_food_licence") & (pl.col("food_kind") == "catering") & (pl.col("food_grade_all") == "D")
    return frame.select(
        (pl.lit("914401") + pl.col("n").cast(pl.String).str.zfill(11) + pl.lit("X")).alias("uscc"),
        (pl.col("county") + pl.col("town").cast(pl.String).str.zfill(3)).alias("region"),
        "subject_kind",
        "status",
        "industry_section",
        "credit_class",
        "has_food_licence",
        pl.when(pl.col("has_food_licence")).then(pl.col("food_kind")).alias("food_licence_kind"),
        pl.when(pl.col("has_food_licence")).then(pl.col("food_grade_all")).alias("food_grade"),
        "has_device_business",
        "device_producer",
        "equipment_count",
        pl.concat_list(
            pl.when(pl.col("overdue") | pl.col("public")).then(pl.lit("TS-SY-01")),
            pl.when(food_due).then(pl.lit("SP-CY-01")),
        )
        .list.drop_nulls()
        .alias("mandatory"),
        pl.concat_list(
            pl.when(pl.col("overdue") | pl.col("public")).then(se_reason),
            pl.when(food_due).then(pl.lit("D 级餐饮：每年 3-4 次监督检查")),
        )
        .list.drop_nulls()
        .alias("mandatory_reason"),
        # Overdue equipment and D class weigh most: risk orders the work when capacity runs short.
        (pl.col("risk") + pl.col("overdue").cast(pl.Float64) + (pl.col("credit_class") == "D").cast(pl.Float64)).alias(
            "risk"
        ),
        "whitelist",
        "abnormal_unreachable",
        pl.col("licensed_maker").alias("has_industrial_product_licence"),
    )


def build_roster(
    profile: dict[str, Any], rng: np.random.Generator, subjects: pl.DataFrame
) -> tuple[list[InspectorCreate], list[ConflictCreate]]:
    counties = list(profile["counties"])
    weights = np.array(list(profile["counties"].values()))
    general = ["registration", "food", "pricing", "advertising", "product_quality", "medical_device"]
    shares = np.array([0.36, 0.30, 0.10, 0.08, 0.12, 0.04])
    out = []
    n_general = profile["inspectors"] - profile["se_inspectors"]
    for k in range(profile["inspectors"] + profile["experts"]):
        county = counties[rng.choice(len(counties), p=weights / weights.sum())]
        if k < n_general:
            first = general[rng.choice(len(general), p=shares)]
            quals = {first}
            if rng.random() < 0.3:
                quals.add(general[rng.choice(len(general), p=shares)])
            cert, capacity = f"粤{k:06d}", 60
        elif k < profile["inspectors"]:
            quals, cert, capacity = {"special_equipment"}, f"粤T{k:05d}", 50
        else:
            quals, cert, capacity = (
                {general[rng.choice(len(general), p=shares)], "special_equipment"},
                None,
                20,
            )
        out.append(
            InspectorCreate(
                id=f"P{k:05d}",
                name=f"检查员{k}",
                unit="市场监督管理局",
                region=county,
                certificate_no=cert,
                qualifications=sorted(quals),
                capacity=capacity,
            )
        )
    # About 0.3 conflicts of interest per inspector (engine/synth/profiles.py's assumption).
    ids = subjects["uscc"]
    conflicts = [
        ConflictCreate.model_construct(inspector_id=out[int(i)].id, uscc=ids[int(j)], reason="亲属关系")
        for i, j in zip(
            rng.integers(0, len(out), size=len(out) * 3 // 10),
            rng.integers(0, len(ids), size=len(out) * 3 // 10),
            strict=True,
        )
    ]
    unique = {(c.inspector_id, c.uscc): c for c in conflicts}
    return out, list(unique.values())


def build_history(subjects: pl.DataFrame, roster: list[InspectorCreate], rng: np.random.Generator) -> pl.DataFrame:
    """Checks in the two years before as-of: ≈ 6 % of subjects a year, with the lead inspector."""
    n = subjects.height
    rows = int(n * 0.12)
    picks = rng.integers(0, n, size=rows)
    days = rng.integers(1, 730, size=rows)
    codes = np.array(["DJ-GS-01", "DJ-GT-01", "SP-CY-01", "SP-XS-01", "TS-SY-01", "JG-BQ-01"], dtype=object)
    kinds = np.array(["random", "random", "random", "key", "post_licence"], dtype=object)
    leads = np.array([i.id for i in roster if i.certificate_no], dtype=object)
    frame = pl.DataFrame(
        {
            "uscc": subjects["uscc"].gather(picks),
            "checked_on": np.datetime64(AS_OF, "D") - days.astype("timedelta64[D]"),
            "item_code": codes[rng.integers(0, len(codes), size=rows)].astype(str),
            "kind": kinds[rng.integers(0, len(kinds), size=rows)].astype(str),
            "lead_inspector": leads[rng.integers(0, len(leads), size=rows)].astype(str),
        }
    )
    # No level, finding or own column (diagonal: null): every check counts for the no-repeat rule, as before levels.
    return pl.concat([history_frame(), frame.with_columns(pl.col("checked_on").cast(pl.Date))], how="diagonal")


def naive_draw(rows: list[dict[str, Any]], items: list[CheckItemCreate], policy: PlanPolicy) -> int:
    """The baseline: a per-subject loop, one ticket() per subject and item, a sort per stratum."""
    ops = {
        "in": lambda a, b: a in b,
        ">": lambda a, b: a is not None and a > b,
        ">=": lambda a, b: a is not None and a >= b,
        "<": lambda a, b: a is not None and a < b,
        "<=": lambda a, b: a is not None and a <= b,
    }
    drawn = 0
    for item in items:
        strata: dict[str, list[Any]] = {}
        for r in rows:
            ok = r["status"] == "active" or r["status"] not in policy.excluded_statuses
            for feature, test in item.target.items():
                value = r.get(feature)
                if isinstance(test, dict):
                    ok = ok and all(ops[op](value, want) for op, want in test.items())
                else:
                    ok = ok and value == test
            if ok:
                strata.setdefault(f"{r['region'][:6]}/{r['credit_class']}", []).append(ticket(SEED, r["uscc"]))
        for name, members in strata.items():
            ratio = (policy.item(item.code).ratios or policy.credit_ratios)[name.split("/")[1]]
            members.sort()
            drawn += len(members[: quota(ratio, len(members))])
    return drawn


def run(name: str, sample: int) -> None:
    profile = PROFILES[name]
    rng = np.random.default_rng(20250102)
    subjects, t_build = timed(build_subjects, profile, rng)
    roster, conflicts = build_roster(profile, rng, subjects)
    history = build_history(subjects, roster, rng)
    items = load_catalogue()
    units = subjects.filter(target_expr(next(i for i in items if i.code == "TS-SY-01"), subjects.schema)).height
    print(
        f"\n== {name}: {subjects.height:,} subjects, {units:,} equipment user units, {len(roster):,} inspectors "
        f"({profile['se_inspectors']} special-equipment, {profile['experts']} experts), {len(conflicts):,} "
        f"conflicts, {history.height:,} past checks, {len(items)} items (frames built in {t_build:.1f} s)"
    )
    rss_before = current_rss_mb()
    fresh = reset_peak_rss()
    plan, t_plan = timed(
        make_plan, subjects, items, POLICY, roster, conflicts, history, seed=SEED, period=PERIOD, as_of=AS_OF
    )
    text, t_json = timed(plan.to_json)
    summary = plan.summary()
    print(
        f"make_plan: {t_plan:6.2f} s   to_json: {t_json:5.2f} s ({len(text) / 2**20:.0f} MB)   "
        f"{'peak RSS during make_plan + to_json' if fresh else 'peak RSS of the run'} {peak_rss_mb():,.0f} MB "
        f"(input frames resident before: {rss_before:,.0f} MB)"
    )
    sub = subjects.sample(min(sample, subjects.height), seed=1)
    rows = sub.to_dicts()
    # Best of two, so a cold cache does not flatter make_plan.
    t_naive = min(timed(naive_draw, rows, items, POLICY)[1] for _ in range(2))
    estimate = t_naive * subjects.height / sub.height
    print(
        f"baseline (naive per-subject loop, draws only): {sub.height:,} subjects in {t_naive:.2f} s → "
        f"{estimate:,.0f} s extrapolated to {subjects.height:,} ({estimate / t_plan:,.0f}x make_plan's whole plan)"
    )
    v = summary["visits"]
    print(
        f"visits needed {v['needed']:,}, planned {v['planned']:,} ({v['subject_items']:,} subject-items; "
        f"{v['with_mandatory_items']:,} with mandatory items); repeat-visit rate "
        f"{summary['repeat_visits']['rate']:.2%}; leads changed from the previous visit {v['lead_changed_from_previous']:,}"
    )
    load = summary["team_load"]
    print(
        f"team load: {load['inspector_visits']:,} of {load['capacity']:,} inspector-visits used; per inspector "
        f"{load['min_visits']}-{load['max_visits']} visits, {load['full']:,} at capacity"
    )
    for what in ("uncovered", "unstaffed"):
        d = summary[what]
        print(
            f"{what}: {d['entries']:,} entries, {d['subject_items']:,} subject-items "
            f"({d['mandatory_subject_items']:,} mandatory) by reason {d['by_reason']}"
        )
    se = plan.item("TS-SY-01")
    cov = summary["mandatory_coverage"]["items"]["TS-SY-01"]
    se_visits = sum(1 for x in plan.visits if "TS-SY-01" in x.item_codes)
    print(
        f"TS-SY-01 special equipment: {se.population:,} units, quota {se.quota:,}, drawn {se.drawn_count:,}; "
        f"mandatory {cov['required']:,} required, {cov['planned']:,} planned, not planned {cov['not_planned']}; "
        f"unit checks planned {se_visits:,}"
    )
    print(f"{'item':<9} {'population':>10} {'excluded':>9} {'quota':>7} {'drawn':>7} {'mandatory':>9}")
    for item in summary["items"]:
        print(
            f"{item['code']:<9} {item['population']:>10,} {item['excluded']:>9,} {item['quota']:>7,} "
            f"{item['drawn_count']:>7,} {item['mandatory_required']:>9,}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=["jiedong", "baiyun", "guangzhou", "both"], default=None)
    ap.add_argument("--baseline-sample", type=int, default=20_000)
    plan_store.add_arguments(ap)
    a = ap.parse_args()
    if a.from_store or a.worker:
        a.profile = a.profile or "jiedong"
        sys.exit(plan_store.run_from_store(a))
    a.profile = a.profile or "both"
    if a.profile == "jiedong":
        sys.exit("the synthetic mode has the baiyun and guangzhou profiles; jiedong is --from-store only")
    print(
        f"python {sys.version.split()[0]}, polars {pl.__version__}, seed {SEED!r}, as-of {AS_OF}, period {PERIOD.label}"
    )
    for name in ["baiyun", "guangzhou"] if a.profile == "both" else [a.profile]:
        run(name, a.baseline_sample)


if __name__ == "__main__":
    main()
