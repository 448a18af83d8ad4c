"""`suijian results record|import|list|due`, `suijian publish results` and `suijian followups list|propose|decide`:
the 一公开 half of 双随机、一公开 — what each visit found, its 公示 within 20 working days, and the follow-ups."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from commands.common import (
    DATE,
    check_output,
    chosen_pack,
    db_option,
    emit,
    json_option,
    now,
    out,
    pack_member,
    pack_option,
    store_connection,
    table,
    write_output,
)
from engine import plan_announce
from engine.plan import announcement
from engine.plan.calendar import CalendarFile, WorkCalendar
from engine.results import followup_store, followups, intake, publishing, recheck_store, records
from engine.results.model import current_by_visit
from entities import identity
from entities.errors import ImportRejected, UsageError

SHOWN_PROBLEMS = 20


def _calendar(path: str | None) -> WorkCalendar:
    return WorkCalendar([CalendarFile.read(path)]) if path else WorkCalendar()


calendar_option = click.option(
    "--calendar",
    "calendar_file",
    default=None,
    metavar="FILE",
    help="Working-day calendar file for years the chinesecalendar library does not cover.",
)


def _day(value: dt.datetime | None, default: dt.date) -> dt.date:
    return value.date() if value is not None else default


def _show_problems(exc: ImportRejected) -> None:
    if len(exc.problems) < 2:
        return  # the error line names it
    for problem in exc.problems[:SHOWN_PROBLEMS]:
        click.echo(str(problem), err=True)
    if len(exc.problems) > SHOWN_PROBLEMS:
        click.echo(f"… and {len(exc.problems) - SHOWN_PROBLEMS:,} more", err=True)


@click.group("results")
def results() -> None:
    """Results of plan visits (检查结果): record, import the filled-in task list, list, and what is due for 公示.

    \b
    Examples:
      suijian results record --plan P2026-1a2b3c4d5e --visit 91440101MA5CXXXX1B --code 1 --completed 2026-04-10
      suijian results import 2026任务清单.xlsx --recorded-on 2026-04-30
      suijian results due --as-of 2026-05-10
    """


@results.command("record")
@click.option("--plan", "plan_id", required=True, metavar="PLAN_ID", help="The committed plan.")
@click.option("--visit", "visit_id", required=True, metavar="VISIT", help="The visit id (检查编号) in the task list.")
@click.option(
    "--item",
    "items",
    multiple=True,
    metavar="CODE[=R1,R2]",
    help="A check item of the visit (default: every item); CODE=R1,R2 gives that item its own result codes.",
)
@click.option("--code", "codes", multiple=True, metavar="CODE", help="A result code (1, 3…12, A…G, or its label).")
@click.option("--completed", "completed", required=True, type=DATE, metavar="YYYY-MM-DD", help="Completion date.")
@click.option("--findings", default="", metavar="TEXT", help="What was found (问题描述).")
@click.option(
    "--measure", "measures", multiple=True, metavar="MEASURE", help="责令改正, 监察指令, 立案 … (repeatable)."
)
@click.option(
    "--deadline", type=DATE, default=None, metavar="YYYY-MM-DD", help="The deadline an order sets (整改期限)."
)
@click.option("--report-received", "report_on", type=DATE, default=None, metavar="YYYY-MM-DD", help="整改报告收到日期.")
@click.option("--team", default=None, metavar="ID,ID", help="Who checked (default: the planned team).")
@click.option(
    "--recorded-on",
    "recorded_on",
    type=DATE,
    default=None,
    metavar="YYYY-MM-DD",
    help="Recording date (default today).",
)
@click.option("--correct", default=None, metavar="REASON", help="Correct the recorded result: a new version, with why.")
@db_option
@json_option
def record_cmd(
    plan_id: str,
    visit_id: str,
    items: tuple[str, ...],
    codes: tuple[str, ...],
    completed: dt.datetime,
    findings: str,
    measures: tuple[str, ...],
    deadline: dt.datetime | None,
    report_on: dt.datetime | None,
    team: str | None,
    recorded_on: dt.datetime | None,
    correct: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Record one visit's result. An inspector records only visits whose team they are on; a second result of a
    visit needs --correct REASON and is kept as a new version next to the first.

    \b
    Examples:
      suijian results record --plan P2026-1a2b3c4d5e --visit 91440101MA5CXXXX1B --code 1 --completed 2026-04-10
      suijian results record --plan P2026-1a2b3c4d5e --visit 91440101MA5CXXXX1B --item SP-XS-01=3,A \\
          --item DJ-GS-01=1 --measure 责令改正 --deadline 2026-04-30 --completed 2026-04-10
      suijian results record --plan P2026-1a2b3c4d5e --visit 91440101MA5CXXXX1B --code E --completed 2026-04-10 \\
          --correct "整改复查后更正"
    """
    if not items and not codes:
        raise UsageError("give --code (for every item) or --item CODE=R1,R2")
    actor = identity.require("record results")
    day = _day(recorded_on, now().date())
    with store_connection(db, write=True) as conn:
        try:
            written, same = intake.record_one(
                conn,
                plan_id=plan_id,
                visit_id=visit_id,
                items=items,
                codes=codes,
                completed_on=completed.date(),
                recorded_on=day,
                actor=actor,
                created_at=now(),
                findings=findings,
                measures=measures,
                deadline=deadline.date() if deadline else None,
                report_on=report_on.date() if report_on else None,
                team=[t.strip() for t in team.replace("，", ",").split(",") if t.strip()] if team else (),
                correct=correct,
            )
        except ImportRejected as exc:
            if not as_json:
                _show_problems(exc)
            raise
    doc = {"plan": plan_id, "visit": visit_id, "recorded_on": day.isoformat(), "unchanged": same, **written.as_dict()}
    if as_json:
        emit(doc)
    elif same:
        click.echo(f"Visit {visit_id} of plan {plan_id}: this result is already recorded; nothing changed.")
    else:
        what = "correction" if correct else "result"
        click.echo(
            f"Recorded the {what} of visit {visit_id} of plan {plan_id} "
            f"as of {day} ({written.items} item(s)), batch {written.batch_id}, ledger #{written.ledger_seq}."
        )


@results.command("import")
@click.argument("file", metavar="FILE")
@click.option(
    "--recorded-on",
    "recorded_on",
    type=DATE,
    default=None,
    metavar="YYYY-MM-DD",
    help="Recording date (default today).",
)
@click.option("--encoding", type=click.Choice(["utf-8", "gbk", "gb18030"]), default="utf-8", show_default=True)
@click.option(
    "--sheet",
    default=None,
    metavar="NAME",
    help="The one sheet to read (default: every result sheet of an exported task list, else the first sheet).",
)
@click.option("--skip-invalid", is_flag=True, help="Record the good visits; write every rejected row to --rejects.")
@click.option("--rejects", default=None, metavar="FILE", help="Where --skip-invalid writes the rejected rows (CSV).")
@db_option
@json_option
def import_cmd(
    file: str,
    recorded_on: dt.datetime | None,
    encoding: str,
    sheet: str | None,
    skip_invalid: bool,
    rejects: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Read results from the filled-in task list (its 检查结果 sheet, or every inspector's or unit's sheet of a list
    exported with --sheets) or a CSV with the same headers.

    Every problem is one line with its row and column, and nothing is written; re-importing the same file changes
    nothing. Rows with no 完成日期 and no 检查结果 are visits not done yet and are skipped.

    \b
    Examples:
      suijian results import 2026任务清单.xlsx --recorded-on 2026-04-30
      suijian results import results.csv --encoding gbk
      suijian results import results.xlsx --skip-invalid --rejects rejected.csv
      suijian results import 2026任务清单-按人员.xlsx --sheet 张三 --recorded-on 2026-04-30
    """
    actor = identity.require("record results")
    day = _day(recorded_on, now().date())
    with store_connection(db, write=True) as conn:
        try:
            done = intake.import_results(
                conn,
                file,
                recorded_on=day,
                actor=actor,
                created_at=now(),
                encoding=encoding,
                sheet=sheet,
                skip_invalid=skip_invalid,
                rejects=rejects,
            )
        except ImportRejected as exc:
            if not as_json:
                _show_problems(exc)
            raise
    doc = {"recorded_on": day.isoformat(), **done.as_dict()}
    if as_json:
        emit(doc)
        return
    r = done.recorded
    line = (
        f"Read {done.rows:,} row(s) of {file}: {r.visits:,} visit result(s) recorded ({r.corrections:,} correction(s)), "
        f"{done.unchanged:,} already recorded, {done.blank:,} not filled in"
    )
    if done.rejected:
        line += f"; {len({p.row for p in done.rejected}):,} row(s) rejected, written to {done.rejects_file}"
    if r.batch_id is None:
        line += "; nothing changed"
    else:
        line += f"; batch {r.batch_id}, ledger #{r.ledger_seq}"
    click.echo(line + ".")


@results.command("list")
@click.option("--plan", "plan_id", default=None, metavar="PLAN_ID", help="Only this plan's visits.")
@click.option("--overdue", is_flag=True, help="Only unpublished results past their 20-working-day deadline.")
@click.option("--versions", is_flag=True, help="Every version, not only the one in force.")
@click.option("--as-of", "as_of", type=DATE, default=None, metavar="YYYY-MM-DD", help="For --overdue (default today).")
@calendar_option
@db_option
@json_option
def list_cmd(
    plan_id: str | None,
    overdue: bool,
    versions: bool,
    as_of: dt.datetime | None,
    calendar_file: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """The recorded results: the version in force of each visit (or every version), or those overdue for 公示.

    \b
    Examples:
      suijian results list --plan P2026-1a2b3c4d5e
      suijian results list --overdue --as-of 2026-06-01
    """
    with store_connection(db) as conn:
        stored = records.stored_results(conn, plan_id=plan_id)
        shown = stored if versions else list(current_by_visit(stored).values())
        if overdue:
            late = {
                d.key: d
                for d in publishing.due(conn, _calendar(calendar_file), _day(as_of, now().date()), plan_id=plan_id)
                if d.overdue
            }
            shown = [r for r in shown if r.key in late]
    shown.sort(key=lambda r: (r.plan_id, r.visit_id, r.version))
    if as_json:
        emit({"results": [r.to_dict() for r in shown]})
        return
    rows = [
        (
            r.plan_id,
            r.visit_id,
            r.uscc,
            r.completed_on.isoformat(),
            "；".join(r.result_codes),
            str(r.version),
            r.correction_reason or "",
        )
        for r in shown
    ]
    out.print(
        table(
            "检查结果 results",
            ["计划", "检查编号", "统一社会信用代码", "完成日期", "结果代码", "版本", "更正原因"],
            rows,
        )
    )
    click.echo(f"{len(shown):,} result(s).")


@results.command("due")
@click.option("--plan", "plan_id", default=None, metavar="PLAN_ID", help="Only this plan's visits.")
@click.option(
    "--as-of", "as_of", type=DATE, default=None, metavar="YYYY-MM-DD", help="Count days as of (default today)."
)
@calendar_option
@db_option
@json_option
def due_cmd(
    plan_id: str | None, as_of: dt.datetime | None, calendar_file: str | None, db: str | None, as_json: bool
) -> None:
    """Unpublished results with their 公示 deadline (20 working days after completion) and working days left,
    overdue first.

    \b
    Examples:
      suijian results due --as-of 2026-05-10
    """
    day = _day(as_of, now().date())
    with store_connection(db) as conn:
        pending = publishing.due(conn, _calendar(calendar_file), day, plan_id=plan_id)
    if as_json:
        emit(
            {
                "as_of": day.isoformat(),
                "due": [d.as_dict() for d in pending],
            }
        )
        return
    rows = [
        (
            d.plan_id,
            d.visit_id,
            d.completed_on.isoformat(),
            d.deadline.isoformat(),
            str(d.days_left),
            "逾期" if d.overdue else "",
        )
        for d in pending
    ]
    out.print(table(f"待公示 due as of {day}", ["计划", "检查编号", "完成日期", "公示期限", "剩余工作日", ""], rows))
    click.echo(f"{len(pending):,} unpublished result(s), {sum(d.overdue for d in pending):,} overdue.")


@click.group("publish")
def publish_group() -> None:
    """公示: publish what the 国家企业信用信息公示系统 takes.

    \b
    Examples:
      suijian publish results --published-on 2026-05-08 --out 公示.xlsx
    """


@publish_group.command("results")
@click.option("--plan", "plan_id", default=None, metavar="PLAN_ID", help="Only this plan's results.")
@click.option("--until", type=DATE, default=None, metavar="YYYY-MM-DD", help="Only results completed by this date.")
@click.option(
    "--published-on", "published_on", type=DATE, default=None, metavar="YYYY-MM-DD", help="公示日期 (default today)."
)
@click.option(
    "--authority", default=None, metavar="TEXT", help="检查实施机关 (default: the plan region's 市场监督管理局)."
)
@click.option(
    "--out", "out_path", required=True, metavar="FILE.xlsx", help="The XLSX to write; a .csv is written next to it."
)
@calendar_option
@db_option
@json_option
def publish_results(
    plan_id: str | None,
    until: dt.datetime | None,
    published_on: dt.datetime | None,
    authority: str | None,
    out_path: str,
    calendar_file: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Publish every unpublished result (the version in force): the upload records as XLSX and CSV, what was
    published and when recorded in the store and the ledger, each record marked on time or late.

    \b
    Examples:
      suijian publish results --published-on 2026-05-08 --out 公示-2026-05-08.xlsx
      suijian publish results --plan P2026-1a2b3c4d5e --until 2026-04-30 --out 公示.xlsx
    """
    actor = identity.require("publish results")
    if not out_path.lower().endswith(".xlsx"):
        raise UsageError("--out names the .xlsx file (the .csv is written next to it)")
    csv_path = str(Path(out_path).with_suffix(".csv"))
    check_output(out_path)
    check_output(csv_path)
    day = _day(published_on, now().date())
    with store_connection(db, write=True) as conn:
        done = publishing.publish(
            conn,
            _calendar(calendar_file),
            published_on=day,
            actor=actor,
            created_at=now(),
            plan_id=plan_id,
            until=until.date() if until else None,
            authority=authority,
        )
        if done.id is not None:
            write_output(out_path, done.xlsx)
            write_output(csv_path, done.csv)
    doc: dict[str, Any] = {"published_on": day.isoformat(), **done.as_dict()}
    if done.id is not None:
        doc.update(xlsx=out_path, csv=csv_path)
    if as_json:
        emit(doc)
    elif done.id is None:
        click.echo("Nothing to publish: every recorded result is published; no file written.")
    else:
        click.echo(
            f"Published {len(done.records):,} result(s) on {day} ({done.on_time:,} on time, {done.late:,} late) "
            f"to {out_path} and {csv_path}; publication {done.id}, ledger #{done.ledger_seq}."
        )


@click.group("followups")
def followups_group() -> None:
    """后续处置: the follow-ups recorded results call for (re-checks, 经营异常名录 listings, penalty cases).

    \b
    Examples:
      suijian followups propose --as-of 2026-05-10
      suijian followups list --open
      suijian followups decide list_abnormal:P2026-…:91440101MA5CXXXX1B:DJ-GS-01 --accept --reason "实地核查无法联系"
    """


@followups_group.command("propose")
@click.option("--as-of", "as_of", type=DATE, required=True, metavar="YYYY-MM-DD", help="Judge deadlines as of.")
@pack_option
@calendar_option
@db_option
@json_option
def propose_cmd(
    as_of: dt.datetime, pack_dir: str | None, calendar_file: str | None, db: str | None, as_json: bool
) -> None:
    """Compute the follow-ups the recorded results call for, by the rule pack's follow-up decisions
    (followups.yaml; the store's active pack unless --pack), and store the new ones (the same results propose the
    same follow-ups once); then schedule every open re-check (复查): a team and a working day inside its window.

    A re-check goes to the original visit's team when all its members are still on the roster and free of
    conflicts of interest; otherwise the team is rebuilt by the staffing rules (kept members, then certified,
    qualified inspectors of the subject's pool with the fewest visits in the window). Its day is a working day of
    the window with room under the daily capacity, with the lead's visits in the same township first. Each
    re-check is a new visit row under the original plan (the plan itself is not changed), listed by
    `suijian tasks export` and recorded with `suijian results record|import`; the scheduling is a `recheck`
    ledger entry that `suijian audit verify` checks.

    \b
    Examples:
      suijian followups propose --as-of 2026-05-10
      suijian followups propose --as-of 2026-05-10 --pack rules/guangdong
      suijian followups propose --as-of 2026-05-10 --calendar 2027调休.csv --json
    """
    actor = identity.require("propose follow-ups")
    calendar = _calendar(calendar_file)
    with chosen_pack(db, pack_dir) as pack, store_connection(db, write=True) as conn:
        new = followup_store.refresh(conn, calendar, as_of.date(), pack)
        run = recheck_store.schedule(conn, calendar, as_of.date(), actor=actor, created_at=now())
    if as_json:
        emit({"as_of": as_of.date().isoformat(), "pack": pack_member(pack), "new": new, "rechecks": run.as_dict()})
        return
    click.echo(f"{new:,} new follow-up(s) proposed as of {as_of.date()} (rules: {pack.name} {pack.version}).")
    if run.scheduled:
        restaffed = sum(1 for r in run.scheduled if r.team_rule == "restaffed")
        click.echo(
            f"Scheduled {len(run.scheduled):,} re-check visit(s) (复查), {restaffed:,} with a rebuilt team; "
            f"ledger #{run.ledger_seq}."
        )
    for u in run.unstaffed:
        click.echo(f"Not scheduled: {u.reason}.")


@followups_group.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only proposals that still need a supervisor's decision.")
@click.option("--uscc", default=None, metavar="USCC", help="Only this subject's.")
@db_option
@json_option
def list_followups(open_only: bool, uscc: str | None, db: str | None, as_json: bool) -> None:
    """Stored follow-ups with their decisions.

    \b
    Examples:
      suijian followups list --open
    """
    with store_connection(db) as conn:
        rows = followup_store.listing(conn, open_only=open_only, uscc=uscc)
        asked = [r.proposal for r in rows if r.proposal["kind"] == "recheck"]
        visits = recheck_store.status(conn, [p["id"] for p in asked])
        # Not scheduled because a later visit of the subject already checked the item again: say so.
        for pid in recheck_store.covered(conn, [p for p in asked if p["id"] not in visits]):
            visits[pid] = {"visit": None, "scheduled_on": None, "team": [], "done": True}
    if as_json:
        emit({"followups": [{**r.proposal, "decision": r.decision, **_recheck_doc(r.proposal, visits)} for r in rows]})
        return
    body = [
        (
            r.proposal["id"],
            followups.ProposalKind(r.proposal["kind"]).label,
            r.proposal["uscc"],
            r.proposal["basis"],
            _recheck_state(visits.get(r.proposal["id"]))
            if r.proposal["kind"] == "recheck"
            else (r.decision or {}).get("decision", "待决定" if r.proposal["needs_decision"] else ""),
        )
        for r in rows
    ]
    out.print(table("后续处置 follow-ups", ["编号", "处置", "统一社会信用代码", "依据", "决定/复查"], body))
    click.echo(f"{len(rows):,} follow-up(s).")


def _recheck_doc(proposal: dict[str, Any], visits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    # Re-check proposals say which visit does them (None until scheduled); other kinds stay as they were.
    return {"recheck_visit": visits.get(proposal["id"])} if proposal["kind"] == "recheck" else {}


def _recheck_state(visit: dict[str, Any] | None) -> str:
    if visit is None:
        return "待安排"
    if visit["done"]:
        return f"已复查（{visit['visit']}）" if visit["visit"] else "已由其后的检查复查"
    return f"已安排 {visit['scheduled_on']}"


@followups_group.command("decide")
@click.argument("proposal_id", metavar="ID")
@click.option("--accept", "decision", flag_value="confirm", help="Confirm the proposal.")
@click.option("--reject", "decision", flag_value="reject", help="Reject it (needs --reason).")
@click.option("--reason", default="", metavar="TEXT", help="Why (required to reject).")
@click.option("--on", "on", type=DATE, default=None, metavar="YYYY-MM-DD", help="Decision date (default today).")
@db_option
@json_option
def decide_cmd(
    proposal_id: str, decision: str | None, reason: str, on: dt.datetime | None, db: str | None, as_json: bool
) -> None:
    """A supervisor's decision on a proposal; a confirmed 经营异常名录 listing becomes a list entry the next grade
    reads. A decision is recorded in the ledger and never changed.

    \b
    Examples:
      suijian followups decide list_abnormal:P2026-…:91440101MA5CXXXX1B:DJ-GS-01 --accept --on 2026-05-12
      suijian followups decide penalty_case:P2026-…:91440101MA5CXXXX1B:DJ-GS-01 --reject --reason "已另案处理"
    """
    if decision is None:
        raise UsageError("give --accept or --reject")
    actor = identity.require("decide follow-ups")
    day = _day(on, now().date())
    with store_connection(db, write=True) as conn:
        done = followup_store.decide(
            conn,
            proposal_id,
            followups.Decision(decision),
            actor=actor,
            decided_on=day,
            reason=reason,
            created_at=now(),
        )
    if as_json:
        emit({k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in done.items()})
    else:
        listed = "; listed on 经营异常名录" if done["listed"] else ""
        click.echo(f"Follow-up {proposal_id}: {decision}ed by {actor.user} on {day}{listed}.")


def register(cli: click.Group) -> None:
    cli.add_command(results)
    cli.add_command(publish_group)
    cli.add_command(followups_group)


@publish_group.command("plan")
@click.option("--plan", "plan_id", default=None, metavar="PLAN_ID", help="Plan id (default: the newest plan).")
@click.option(
    "--published-on", "published_on", type=DATE, default=None, metavar="YYYY-MM-DD", help="公示日期 (default today)."
)
@click.option("--out", "out_path", required=True, metavar="FILE.xlsx", help="The XLSX to write.")
@db_option
@json_option
def publish_plan(
    plan_id: str | None, published_on: dt.datetime | None, out_path: str, db: str | None, as_json: bool
) -> None:
    """The plan's 公示 at the start of the period: items, quotas asked and fitted, every stratum's ratio, quota and
    cut-off ticket, the drawn subjects with their tickets, the seed and its commitment, the ledger entry and head —
    what anyone needs to check the draw with the public consistent-sampler package. Reads only; records nothing.

    \b
    Examples:
      suijian publish plan --out 2026抽查计划公示.xlsx
      suijian publish plan --plan P2026-1a2b3c4d5e --published-on 2026-01-05 --out 公示-计划.xlsx
    """
    if not out_path.lower().endswith(".xlsx"):
        raise UsageError("--out names the .xlsx file to write")
    check_output(out_path)
    day = _day(published_on, now().date())
    with store_connection(db) as conn:
        found = plan_announce.announcement_of(conn, plan_id)
    pid, plan, commitment, sheets = found.plan_id, found.plan, found.commitment, found.sheets
    where = write_output(out_path, announcement.to_xlsx(sheets, stamp=day))
    strata = len(sheets["分层抽取"]) - 1
    drawn = len(sheets["抽中名单"]) - 1
    if as_json:
        emit({"plan_id": pid, "out": where, "strata": strata, "drawn": drawn, "seed_commitment": commitment})
    else:
        click.echo(
            f"Wrote the 公示 of plan {pid} to {where}: {len(plan.items)} items, {strata:,} strata, {drawn:,} drawn."
        )
