"""`suijian rules check|test|diff`: check a rule pack, run its given/expect cases and show row coverage, and see
what a changed pack would do to the store's subjects and plan before it takes effect."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from rich.markup import escape

from commands.common import (
    as_of_option,
    check_output,
    counting,
    db_option,
    emit,
    err,
    fail,
    json_option,
    out,
    out_option,
    pack_directory,
    pack_member,
    period_option,
    progress_bars,
    region_option,
    seed_option,
    store_connection,
    table,
    url_of,
    workers_for,
    write_output,
)
from engine import planning, whatif
from engine.features.compute import population_size
from engine.plan import check_seed
from engine.report_html import render
from engine.rules import CaseReport, Finding, Pack, read_pack, run_cases
from engine.whatif import shown
from entities.errors import UsageError


@click.group("rules")
def rules() -> None:
    """Check, test, compare (diff), publish and backtest rule packs (规则包): YAML decision tables with a pack.yaml
    manifest. A pack is named by a bundled pack's name (national, guangdong) or a directory.

    \b
    Examples:
      suijian rules check national && suijian rules test national
      suijian rules diff national guangdong --as-of 2025-12-31
    """


def _summary(findings: list[Finding]) -> tuple[int, int]:
    errors = sum(f.severity == "error" for f in findings)
    return errors, len(findings) - errors


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@rules.command("check")
@click.argument("directory", metavar="PACK")
@json_option
def check(directory: str, as_json: bool) -> None:
    """Check a rule pack (a bundled one by name, or a directory) and its parent packs: schema, features, types, parameters, cycles,
    duplicate ids, reasons and legal bases, and each table's overlaps, gaps and unreachable rows.

    Prints every finding as `file:line: code: message`, sorted by location; exits 1 if any is an error.
    A pack with an error can never be used for grading or planning.

    \b
    Examples:
      suijian rules check national
      suijian rules check guangdong --json
      suijian rules check ./my-pack
    """
    shown_dir = pack_directory(directory)
    pack, findings = read_pack(shown_dir)
    errors, warnings = _summary(findings)
    document = {
        "pack": _member(pack, shown_dir),
        "errors": errors,
        "warnings": warnings,
        "findings": [f.as_dict() for f in findings],
    }
    if errors or pack is None:
        failure = fail(
            as_json,
            document,
            "pack_invalid",
            f"{shown_dir}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}; the pack cannot be used",
        )
        if not as_json:
            for f in findings:
                click.echo(str(f))
        raise failure
    if as_json:
        emit(document)
        return
    for f in findings:
        click.echo(str(f))
    rows = sum(len(d.rules) for d in pack.decisions)
    click.echo(
        f"{shown_dir}: ok — {_plural(len(pack.decisions), 'decision')}, {_plural(rows, 'rule')}, "
        f"{_plural(warnings, 'warning')} (pack {pack.name} {pack.version}, hash {pack.hash[:12]})"
    )


def _member(pack: Pack | None, directory: str) -> dict[str, Any]:
    """The pack member of check and test: name, version and hash are null when the pack could not be read."""
    if pack is None:
        return {"name": None, "version": None, "hash": None, "directory": directory}
    return pack_member(pack, directory=directory)


@rules.command("test")
@click.argument("directory", metavar="PACK")
@click.option(
    "--engine",
    type=click.Choice(["durable", "reference"]),
    default="durable",
    show_default=True,
    help="Engine the cases run on (the other one cross-checks every case).",
)
@click.option(
    "--min-coverage",
    type=click.FloatRange(0, 100),
    default=None,
    metavar="PCT",
    help="Also fail when row coverage is below PCT %.",
)
@json_option
def test(directory: str, engine: str, min_coverage: float | None, as_json: bool) -> None:
    """Run the given/expect cases stored in PACK/tests/*.yaml and report row coverage: the rows of this pack
    that no case fires, as file:line and rule id. Exits 1 if the pack has errors or any case fails
    (or coverage is below --min-coverage).

    \b
    A case file:
      cases:
        - name: 列入严重违法失信名单的企业为 D 类
          given: {on_serious_violation_list: true, penalties_3y: 0}
          expect: {credit_class: D}
          fired: [credit_d_serious]        # optional
    Features left out of `given` are missing.

    \b
    Examples:
      suijian rules test national
      suijian rules test guangdong --min-coverage 100 --json
    """
    shown_dir = pack_directory(directory)
    pack, findings = read_pack(shown_dir)
    errors, _ = _summary(findings)
    if pack is None or errors:
        failure = fail(
            as_json,
            {"pack": _member(pack, shown_dir), "errors": errors, "findings": [f.as_dict() for f in findings]},
            "pack_invalid",
            f"{shown_dir}: {_plural(errors, 'error')}; fix the pack before testing it "
            f"(suijian rules check {directory})",
        )
        if not as_json:
            for f in findings:
                click.echo(str(f))
        raise failure
    report = run_cases(pack, engine=engine)
    below = min_coverage is not None and report.coverage.percent + 1e-9 < min_coverage
    document = _report_json(_member(pack, shown_dir), report)
    if not report.ok:
        message = f"{shown_dir}: {len(report.failed)} of {_plural(len(report.outcomes), 'case')} failed"
        code = "cases_failed"
    elif below:
        message = f"{shown_dir}: row coverage {report.coverage.percent:.1f} % is below the required {min_coverage:g} %"
        code = "coverage_below"
    else:
        if as_json:
            emit(document)
        else:
            _print_report(shown_dir, report)
        return
    failure = fail(as_json, document, code, message)
    if not as_json:
        _print_report(shown_dir, report)
    raise failure


def _report_json(member: dict[str, Any], report: CaseReport) -> dict[str, Any]:
    cov = report.coverage
    return {
        "pack": member,
        "passed": len(report.outcomes) - len(report.failed),
        "failed": len(report.failed),
        "cases": [
            {
                "name": o.case.name,
                "file": o.case.location.file,
                "line": o.case.location.line,
                "passed": o.passed,
                "differences": list(o.differences),
                "fired": list(o.fired),
            }
            for o in report.outcomes
        ],
        "coverage": {
            "rows": cov.total,
            "covered": cov.covered,
            "percent": round(cov.percent, 1),
            "uncovered": [{"file": r.location.file, "line": r.location.line, "rule": r.id} for r in cov.uncovered],
            "disabled": [
                {"file": r.location.file, "line": r.location.line, "rule": r.id, "by": r.disabled_by}
                for r in cov.disabled
            ],
        },
    }


def _print_report(directory: str, report: CaseReport) -> None:
    if not report.outcomes:
        click.echo(f"{directory}: no cases; add given/expect cases under {directory}/tests/*.yaml")
    else:
        rows = [(o.case.name, str(o.case.location), "pass" if o.passed else "FAIL") for o in report.outcomes]
        out.print(table(None, ["case", "where", "result"], rows))
    for o in report.failed:
        click.echo(f"FAIL {o.case.location}: {o.case.name}")
        for line in o.differences:
            click.echo(f"  {line}")
    cov = report.coverage
    click.echo(f"{len(report.outcomes) - len(report.failed)} passed, {len(report.failed)} failed")
    click.echo(f"row coverage: {cov.covered}/{cov.total} rows ({cov.percent:.1f} %)")
    for r in cov.uncovered:
        click.echo(f"  not covered {r.location}: {r.id}")
    for r in cov.disabled:
        click.echo(f"  switched off {r.location}: {r.id} ({r.disabled_by})")


@rules.command("diff")
@click.argument("old_dir", metavar="OLD")
@click.argument("new_dir", metavar="NEW")
@as_of_option()
@period_option(help="Also make the plan with each pack: 2026, 2026Q2 or LABEL:START:END (needs --seed).")
@seed_option(help="The plan's public seed (at least 20 characters; needs --period).")
@region_option(help="Only subjects in these GB/T 2260 county or 街镇 codes (repeatable); also the plan's jurisdiction.")
@click.option(
    "--sample",
    "sample",
    type=click.IntRange(0, 1000),
    default=5,
    show_default=True,
    metavar="N",
    help="Changed subjects to explain (the first N by USCC).",
)
@out_option("Also write the report as one self-contained HTML page (charts, matrices, sample).", "FILE.html")
@db_option
@json_option
def diff(
    old_dir: str,
    new_dir: str,
    as_of: dt.datetime,
    period_text: str | None,
    seed: str | None,
    regions: tuple[str, ...],
    sample: int,
    out_path: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Show what changing a rule pack would do before it takes effect: grade the store's subjects as of a date
    with the pack OLD and the pack NEW (each a bundled pack's name or a directory), and compare.

    Reports the decisions, rules (by id), parameters and policy.yaml entries that differ; per output (credit
    class, food grade, hazard level, frequencies, task lists…) how many subjects change and the migration
    matrix; a sample of changed subjects with the rules that fired on each side and why; and with --period and
    --seed the plan each pack would make — visits, load against capacity, mandatory coverage, uncovered work,
    repeat-visit rate and quotas per item — side by side. Nothing is written to the store.

    \b
    Examples:
      cp -r "$(suijian rules check national --json | jq -r .pack.directory)" /tmp/national-new   # then edit it
      suijian rules diff national /tmp/national-new --as-of 2025-12-31
      suijian rules diff national /tmp/national-new --as-of 2025-12-31 \\
          --period 2026 --seed 38147205519264810375 --out report.html
      suijian rules diff national guangdong --as-of 2025-12-31 --json > diff.json
    """
    if (period_text is None) != (seed is None):
        raise UsageError("--period and --seed go together: give both for the plan impact, or neither")
    if as_json and out_path == "-":
        raise UsageError("--out - writes the report to stdout, where --json writes its document; drop one of them")
    request = None
    if period_text is not None and seed is not None:
        check_seed(seed)
        request = whatif.PlanRequest(planning.parse_period(period_text), seed)
    if out_path is not None:
        check_output(out_path)  # an unwritable --out is refused before minutes of grading
    day = as_of.date()
    old = whatif.load_side(pack_directory(old_dir), "old")
    new = whatif.load_side(pack_directory(new_dir), "new")
    with store_connection(db) as conn, progress_bars() as report:
        total = population_size(conn, day)
        result = whatif.compare(
            conn,
            old,
            new,
            day,
            regions=list(regions) or None,
            sample=sample,
            plan=request,
            on_partition=counting(report, "比较 grading with both packs", total),
            url=url_of(conn),
            workers=workers_for(total),
        )
    doc = result.as_dict()
    where = None
    if out_path is not None:
        where = write_output(out_path, render(doc).encode("utf-8"))  # the same bytes on every platform
    if as_json:
        emit(doc)
        if where is not None:
            err.print(f"Wrote the report to {where}", markup=False)
        return
    if where == "stdout":
        return
    _print_diff(doc)
    if where is not None:
        out.print(f"Wrote the report to {where}", markup=False)


def _int(n: Any) -> str:
    return "—" if n is None else f"{n:,}"


def _delta(a: Any, b: Any) -> str:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        d = b - a
        return "0" if d == 0 else (f"{d:+,}" if isinstance(d, int) else f"{d:+.4g}")
    return ""


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def _words(t: Any, columns: int) -> Any:
    """`table` right-aligns every column after the first (figures); these first `columns` hold words, and long
    words (file paths) fold instead of being cut."""
    for k, column in enumerate(t.columns[:columns]):
        if k:
            column.justify = "left"
        column.overflow = "fold"
    return t


def _x(value: Any) -> str:
    """Pack text as rich shows it literally: `[in_draw, …]` or `[1..3)` are not markup."""
    return escape(str(value))


def _print_diff(doc: dict[str, Any]) -> None:
    """The document as tables. Everything from the packs and the store is escaped: rich would take `[in_draw]` or
    `[1..3)` for markup."""
    rows: list[tuple[Any, ...]]

    def line(text: str) -> None:
        out.print(text, markup=False)

    regions = ", ".join(doc["regions"]) or "all regions"
    line(f"Rule diff as of {doc['as_of']} on {doc['subjects']:,} subjects ({regions})")
    for role in ("old", "new"):
        s = doc[role]
        line(
            f"  {role}: {s['directory']} — {s['name']} {s['version']}, hash {s['hash'][:12]}, "
            f"policy {s['policy_hash'][:12]}"
        )
    ch = doc["changes"]
    if not any(ch.values()):
        line("No decision, rule, parameter or policy change (规则无变化).")
    if ch["decisions"]:
        out.print(
            _words(
                table(
                    "决策表 decisions",
                    ["decision", "change", "what changed"],
                    [(_x(c["id"]), c["kind"], _x("\n".join(c["details"]))) for c in ch["decisions"]],
                ),
                3,
            )
        )
    if ch["rules"]:
        rows = []
        for c in ch["rules"]:
            what = "\n".join(c["details"]) + (f"\n(via {', '.join(c['parameters'])})" if c.get("parameters") else "")
            rows.append(
                (
                    _x(f"{c['id']}\n{c.get('where', '')}"),
                    _x(c["decision"]),
                    c["kind"],
                    _x(what),
                    _int(c["fired"]["old"]),
                    _int(c["fired"]["new"]),
                )
            )
        out.print(
            _words(
                table(
                    "规则 rules (fired = subjects the rule fires for)",
                    ["rule", "decision", "change", "what changed", "fired old", "fired new"],
                    rows,
                ),
                4,
            )
        )
    if ch["parameters"]:
        out.print(
            _words(
                table(
                    "参数 parameters",
                    ["parameter", "change", "old", "new"],
                    [(_x(c["id"]), c["kind"], _x(shown(c["old"])), _x(shown(c["new"]))) for c in ch["parameters"]],
                ),
                2,
            )
        )
    if ch["policy"]:
        out.print(
            _words(
                table(
                    "抽查计划参数 policy.yaml",
                    ["entry", "change", "old", "new"],
                    [(_x(c["id"]), c["kind"], _x(shown(c["old"])), _x(shown(c["new"]))) for c in ch["policy"]],
                ),
                2,
            )
        )

    n = doc["subjects"]
    errors = doc["subjects_with_errors"]
    if errors["old"] or errors["new"]:
        line(
            f"Subjects hitting a rule-pack error (two rows of a unique table match): old {errors['old']:,}, "
            f"new {errors['new']:,}; see --json."
        )
    if not doc["changed_subjects"]:
        line(
            f"No subject changes: every output is the same for all {n:,} subjects"
            + (f" ({doc['fired_changed_subjects']:,} fire other rules)." if doc["fired_changed_subjects"] else ".")
        )
    else:
        line(
            f"{doc['changed_subjects']:,} of {n:,} subjects ({_share(doc['changed_subjects'], n)}) get another "
            f"result; {doc['fired_changed_subjects']:,} fire other rules."
        )
        rows = [
            (
                _x(o["name"]),
                o["changed"],
                _share(o["changed"], n),
                _int(o.get("up")) if "up" in o else "",
                _int(o.get("down")) if "down" in o else "",
            )
            for o in doc["outputs"]
            if o["changed"]
        ]
        out.print(table("输出 outputs that change", ["output", "subjects changed", "share", "rose", "fell"], rows))
        for o in doc["outputs"]:
            if not o["changed"]:
                continue
            if "matrix" in o:
                labels = list(dict.fromkeys([*o["old"], *o["new"]]))
                cells = {(c["old"], c["new"]): c["subjects"] for c in o["matrix"]}
                rows = [(_x(a), *(cells.get((a, b), 0) or "·" for b in labels), o["old"].get(a, 0)) for a in labels]
                rows.append(("total", *(o["new"].get(b, 0) for b in labels), sum(o["old"].values())))
                out.print(
                    table(
                        _x(f"{o['name']}: migration (rows old, columns new)"),
                        ["old \\ new", *(_x(b) for b in labels), "total"],
                        rows,
                    )
                )
            elif o["type"] == "list":
                rows = [
                    (_x(i["item"]), i["old"], i["new"], i["gained"], i["lost"])
                    for i in o["items"]
                    if i["gained"] or i["lost"]
                ]
                out.print(table(_x(f"{o['name']}: subjects per item"), ["item", "old", "new", "gained", "lost"], rows))
    if doc["sample"]:
        line(f"Sample: the first {len(doc['sample'])} changed subjects by USCC")
        for s in doc["sample"]:
            feats = ", ".join(f"{k} = {shown(v)}" for k, v in s["features"].items())
            line(f"• {s['uscc']} {s['name']}" + (f" ({feats})" if feats else ""))
            for d in s["decisions"]:
                names = list(d["old"]["outputs"])
                results = "; ".join(
                    f"{k}: {shown(d['old']['outputs'][k])} → {shown(d['new']['outputs'][k])}" for k in names
                )
                line(f"    {results}" + ("" if names == [d["decision"]] else f" ({d['decision']})"))
                for role in ("old", "new"):
                    fired = "; ".join(f"{f['id']} {f['reason']}" for f in d[role]["fired"]) or "(no rule fired)"
                    line(f"      {role}: {fired}")
    plan = doc["plan"]
    if plan is None:
        return
    if plan.get("headline"):
        line(plan["headline"])
    rows = []
    for m in plan["metrics"]:
        if m["key"].endswith("rate"):
            rows.append((m["label"], f"{100 * m['old']:.2f}%", f"{100 * m['new']:.2f}%", ""))
        else:
            rows.append((m["label"], m["old"], m["new"], _delta(m["old"], m["new"])))
    out.print(
        table(
            _x(f"计划影响 plan impact: period {plan['period']['label']}, seed {plan['seed']!r}"),
            ["figure", "old", "new", "change"],
            rows,
        )
    )
    rows = []
    for i in plan["items"]:
        a, b = i["old"] or {}, i["new"] or {}
        rows.append(
            (
                _x(i["code"]),
                _int(a.get("population")),
                _int(a.get("quota")),
                _int(b.get("quota")),
                _delta(a.get("quota"), b.get("quota")),
                f"{_int(a.get('mandatory_planned'))}/{_int(a.get('mandatory_required'))}",
                f"{_int(b.get('mandatory_planned'))}/{_int(b.get('mandatory_required'))}",
            )
        )
    out.print(
        table(
            "配额 quotas per item (mandatory: planned/required)",
            ["item", "population", "quota old", "quota new", "change", "mandatory old", "mandatory new"],
            rows,
        )
    )
    if plan["units"]:
        out.print(
            table(
                "单位 inspector-visits against capacity per unit",
                ["unit", "inspectors", "visits old", "visits new", "capacity"],
                [
                    (_x(u["unit"]), u["inspectors"], u["old_visits"], u["new_visits"], u["new_capacity"])
                    for u in plan["units"]
                ],
            )
        )
    s = plan["subjects"]
    line(
        f"Subjects visited: old {s['visited_old']:,}, new {s['visited_new']:,} "
        f"({s['only_old']:,} only in the old plan, {s['only_new']:,} only in the new)."
    )


def register(cli: click.Group) -> None:
    cli.add_command(rules)
