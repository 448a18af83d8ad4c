"""Renderings more than one command prints (the plan summary: `suijian plan` and `suijian demo`; a rule-pack
version and its diff: `suijian rules publish` and `suijian rules propose|rollback`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from commands.common import out, table
from engine.publish import diff_is_empty
from engine.whatif import shown


def when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) else str(value)


def pack_line(info: dict[str, Any]) -> str:
    return f"{info.get('name')} {info.get('version')} (files {str(info.get('files_hash'))[:12]})"


def print_pack_diff(diff: dict[str, Any], against: str = "the previous version") -> None:
    """What a pack version changes against another (engine.publish.diff_against), one line per kind of change."""
    if "unavailable" in diff:
        out.print(f"Changes against {against}: unknown ({diff['unavailable']})", markup=False)
        return
    if diff_is_empty(diff):
        out.print(f"Changes against {against}: none")
        return
    out.print(f"Changes against {against}:")
    for group in ("decisions", "rules"):
        for change in ("added", "removed", "modified"):
            if diff[group][change]:
                out.print(f"  {group} {change}: {', '.join(diff[group][change])}", markup=False)
    for p in diff["parameters"]:
        out.print(f"  parameter {p['name']} ({p['change']}): {shown(p['old'])} → {shown(p['new'])}", markup=False)
    for p in diff["policy"]:
        out.print(f"  policy.yaml {p['entry']} ({p['change']}): {shown(p['old'])} → {shown(p['new'])}", markup=False)
    for change in ("added", "removed", "modified"):
        if diff["files"][change]:
            out.print(f"  files {change}: {', '.join(diff['files'][change])}", markup=False)


def _pct(value: Any) -> str:
    return f"{100 * float(value):.2f}%" if value is not None else "—"


def render_plan_summary(plan_id: str, summary: dict[str, Any], *, created: bool, preview: bool = False) -> None:
    """The plan summary as readable tables (what supervisors publish and inspectors read)."""
    period = summary["period"]
    verb = "Preview of plan" if preview else "Committed plan" if created else "Identical plan already committed as"
    out.print(
        f"{verb} {plan_id}: period {period['label']} ({period['start']} – {period['end']}), as of "
        f"{summary['as_of']}, seed {summary['seed']!r}, regions {', '.join(summary['regions']) or 'all'}",
        markup=False,
    )  # seed and period label are the user's text
    rows = []
    for item in summary["items"]:
        mand = (
            summary["mandatory_coverage"]["items"].get(item["code"], {})
            if isinstance(summary["mandatory_coverage"].get("items"), dict)
            else {}
        )
        rows.append(
            (
                item["code"],
                item["population"],
                item["excluded"],
                item["quota"],
                item["drawn_count"],
                item["mandatory_required"],
                mand.get("planned", "—"),
                item["name"],
            )
        )
    out.print(
        table(
            "抽查事项 check items",
            ["item", "population", "excluded", "quota", "drawn", "mandatory", "mandatory planned", "name"],
            rows,
        )
    )
    if "fit" in summary:
        render_fit(summary)
    else:
        render_strata(summary)
    render_visits(summary)


LAYER_LABELS = {
    "mandatory": "1 法定必查 mandatory work",
    "floors": "2 法定最低比例 legal floors",
    "frequency": "3 风险频次 frequencies by risk",
    "ratios": "4 抽查比例 asked ratios",
}


def fit_headline(summary: dict[str, Any]) -> str:
    """One sentence: how the plan fits the office — λ, and the biggest shortfall by layer."""
    fit = summary["fit"]
    lam = ", ".join(f"{v}" if p == "*" else f"{p} {v}" for p, v in fit["lambda"].items())
    short = [layer for layer in fit["layers"] if layer["shortfall"]]
    parts = [f"random draws at {lam} of the asked ratios (λ)"]
    stopped = sorted({f"{i} {v}" for items in fit.get("item_lambda", {}).values() for i, v in items.items()})
    if stopped:
        parts.append(f"higher where qualified capacity was left: {', '.join(stopped)}")
    for layer in short:
        what: dict[str, int] = {}
        for row in layer["left_out"]:
            what[row["what"]] = what.get(row["what"], 0) + row["visits"]
        top = ", ".join(f"{k} {n:,}" for k, n in sorted(what.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
        # Draws are left out per item (subject-items, nested in visits); other layers' work in visits.
        unit = "draws" if layer["name"] in ("floors", "ratios") else "visits"
        parts.append(f"{layer['shortfall']:,} {layer['name']} visits not covered (largest, in {unit}: {top})")
    return "Fitted to capacity: " + "; ".join(parts) + "."


def render_fit(summary: dict[str, Any]) -> None:
    """A fitted plan: the layers in order with what each could not cover, and per item asked vs fitted quota."""
    fit = summary["fit"]
    rows = []
    for layer in fit["layers"]:
        first = layer["left_out"][0] if layer["left_out"] else None
        riskiest = f"{first['what']} ({first['cell']}, {first['visits']:,})" if first else "—"
        rows.append(
            (
                LAYER_LABELS.get(layer["name"], layer["name"]),
                layer["demand"],
                layer["covered"],
                layer["shortfall"],
                riskiest,
            )
        )
    out.print(
        table(
            "容量分配 capacity shared out, layer by layer (visits)",
            ["layer", "demand", "covered", "shortfall", "riskiest left out"],
            rows,
        )
    )
    short: dict[str, int] = {}
    for layer in fit["layers"]:
        if layer["name"] == "ratios":
            for row in layer["left_out"]:
                short[row["what"]] = short.get(row["what"], 0) + row["visits"]
    rows = []
    for item in fit["items"]:
        code = item["item"]
        rows.append(
            (
                code,
                item["eligible"],
                item["floor_required"] or "—",
                item["cap_quota"] if item["cap_quota"] is not None else "—",
                item["quota"] + short.get(code, 0),
                item["quota"],
                item["kappa"],
            )
        )
    out.print(
        table(
            "抽查数量 quotas per item: asked vs fitted",
            ["item", "eligible", "legal floor", "cap (一般)", "asked", "fitted", "κ"],
            rows,
        )
    )
    cells = sum(len(i["strata"]) for i in summary["items"])
    out.print(fit_headline(summary))
    out.print(
        f"Strata: {cells:,} published cells (ratio asked and fitted, quota, drawn, cut-off each) in --json and "
        "the plan document; `suijian explain USCC --run PLAN` shows one subject's."
    )


def render_strata(summary: dict[str, Any]) -> None:
    strata = []
    for item in summary["items"]:
        for s in item["strata"]:
            cut = s["cutoff"]["ticket"][:11] if s["cutoff"] else "—"
            strata.append(
                (
                    item["code"],
                    s["stratum"],
                    s["population"],
                    str(s.get("ratio") or "—"),
                    s["quota"],
                    s["drawn_count"],
                    cut,
                )
            )
    out.print(
        table(
            "分层抽取 strata (cut-off = largest drawn ticket)",
            ["item", "stratum", "population", "ratio", "quota", "drawn", "cut-off"],
            strata,
        )
    )


def render_visits(summary: dict[str, Any]) -> None:
    v, rep, load = summary["visits"], summary["repeat_visits"], summary["team_load"]
    out.print(
        f"Visits: {v['planned']:,} planned of {v['needed']:,} needed ({v['subject_items']:,} subject-items; "
        f"{v['with_mandatory_items']:,} with mandatory items"
        + (f"; {v['frequency_visits']:,} frequency visits" if "frequency_visits" in v else "")
        + f"). Repeat-visit rate {_pct(rep['rate'])} "
        f"(random items {_pct(rep['random_rate'])})."
    )
    out.print(
        f"Teams: {load['inspector_visits']:,} inspector-visits of capacity {load['capacity']:,} "
        f"({load['certified_with_capacity']:,} certified inspectors, {load['min_visits']}–{load['max_visits']} each, "
        f"{load['full']:,} at capacity)."
    )
    for key, label in (("uncovered", "Uncovered (capacity or status)"), ("unstaffed", "Unstaffed (no valid team)")):
        d = summary[key]
        if d["entries"]:
            reasons = ", ".join(f"{k} {n:,}" for k, n in d["by_reason"].items())
            out.print(
                f"{label}: {d['entries']:,} visits, {d['subject_items']:,} subject-items "
                f"({d['mandatory_subject_items']:,} mandatory) — {reasons}. Listed in --json and the export."
            )
        else:
            out.print(f"{label}: none.")
    for text in schedule_lines(summary):
        out.print(text, markup=False)
    for code, note in summary.get("not_drawn_at_this_level", {}).items():
        out.print(f"{code}: {note} (level: provincial; only a plan of a province draws it).")


def schedule_lines(summary: dict[str, Any]) -> list[str]:
    """The schedule's line of a plan summary (its `schedule` block, ScheduleReport.to_dict); none for a plan
    without a schedule (suijian.plan/1)."""
    s = summary.get("schedule")
    if not isinstance(s, dict):
        return []
    unscheduled = f", {s['unscheduled']:,} found no day (listed in --json)" if s["unscheduled"] else ""
    return [
        f"排期 Schedule: {s['scheduled']:,} visits on working days ({s['non_working_day_visits']:,} on days off"
        f"{unscheduled}); busiest inspector-week {s['max_weekly_load']} of capacity "
        f"{s['max_weekly_load_capacity']} ({s['over_capacity']:,} inspector-weeks over); township switches "
        f"{s['township_switches_per_team_day']:.2f} per team-day (most {s['max_township_switches']}); "
        f"calendar {'; '.join(s['calendar']) or '—'}."
    ]
