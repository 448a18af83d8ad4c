"""`suijian rules check|test`: check a rule pack, run its given/expect cases and show row coverage."""

from __future__ import annotations

from typing import Any

import click

from commands.common import emit_json, json_option, out, table
from engine.rules import CaseReport, Finding, read_pack, run_cases
from entities.errors import SuijianError


@click.group("rules")
def rules() -> None:
    """Check and test rule packs (规则包): YAML decision tables with a pack.yaml manifest."""


def _summary(findings: list[Finding]) -> tuple[int, int]:
    errors = sum(f.severity == "error" for f in findings)
    return errors, len(findings) - errors


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@rules.command("check")
@click.argument("directory", metavar="DIR")
@json_option
def check(directory: str, as_json: bool) -> None:
    """Check the rule pack in DIR (and its parent packs): schema, features, types, parameters, cycles,
    duplicate ids, reasons and legal bases, and each table's overlaps, gaps and unreachable rows.

    Prints every finding as `file:line: code: message`, sorted by location; exits 1 if any is an error.
    A pack with an error can never be used for grading or planning.

    \b
    Examples:
      suijian rules check rules/national
      suijian rules check rules/guangdong --json
    """
    pack, findings = read_pack(directory)
    errors, warnings = _summary(findings)
    if as_json:
        emit_json(
            {
                "pack": directory,
                "ok": errors == 0 and pack is not None,
                "errors": errors,
                "warnings": warnings,
                "hash": pack.hash if pack is not None else None,
                "findings": [f.as_dict() for f in findings],
            }
        )
    else:
        for f in findings:
            click.echo(str(f))
        if pack is not None and not errors:
            rows = sum(len(d.rules) for d in pack.decisions)
            click.echo(
                f"{directory}: ok — {_plural(len(pack.decisions), 'decision')}, {_plural(rows, 'rule')}, "
                f"{_plural(warnings, 'warning')} (pack {pack.name} {pack.version}, hash {pack.hash[:12]})"
            )
    if errors or pack is None:
        raise click.ClickException(
            f"{directory}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}; the pack cannot be used"
        )


@rules.command("test")
@click.argument("directory", metavar="DIR")
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
    """Run the given/expect cases stored in DIR/tests/*.yaml and report row coverage: the rows of this pack
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
      suijian rules test rules/national
      suijian rules test rules/guangdong --min-coverage 100 --json
    """
    pack, findings = read_pack(directory)
    errors, _ = _summary(findings)
    if pack is None or errors:
        if as_json:
            emit_json(
                {
                    "pack": directory,
                    "ok": False,
                    "errors": errors,
                    "findings": [f.as_dict() for f in findings],
                }
            )
        else:
            for f in findings:
                click.echo(str(f))
        raise click.ClickException(
            f"{directory}: {_plural(errors, 'error')}; fix the pack before testing it (suijian rules check {directory})"
        )
    try:
        report = run_cases(pack, engine=engine)
    except SuijianError as exc:
        raise click.ClickException(str(exc)) from None
    below = min_coverage is not None and report.coverage.percent + 1e-9 < min_coverage
    if as_json:
        emit_json(_report_json(directory, report, below))
    else:
        _print_report(directory, report)
    if not report.ok:
        raise click.ClickException(
            f"{directory}: {len(report.failed)} of {_plural(len(report.outcomes), 'case')} failed"
        )
    if below:
        raise click.ClickException(
            f"{directory}: row coverage {report.coverage.percent:.1f} % is below the required {min_coverage:g} %"
        )


def _report_json(directory: str, report: CaseReport, below: bool) -> dict[str, Any]:
    cov = report.coverage
    return {
        "pack": directory,
        "ok": report.ok and not below,
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
            "uncovered": [
                {"file": r.location.file, "line": r.location.line, "rule": r.id} for r in cov.uncovered
            ],
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


COMMANDS = [rules]
