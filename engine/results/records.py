"""Results in the store: read the visits a result may belong to and the versions already recorded, write a checked
batch (its result_item rows, its `results` ledger entry, the check history the next grade reads).

What is recorded is append-only: a batch inserts rows, never updates one. Two things are derived and rebuilt from
the rows: `plan_visit.status` ('done' once a visit has a result) and one `check_result` row per visit item (the
check history grading reads, `history_row`), which follows the version in force.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.ledger import chain
from engine.results.codes import ResultCodes, default_codes
from engine.results.model import History, ItemResult, Measure, VisitResult
from engine.results.validate import Recorder, VisitRef
from entities import store
from entities.errors import InputError
from entities.identity import Identity, Role

LEDGER_KIND = "results"
SCHEME = "suijian.results/1"  # how a batch's rows are hashed into its ledger entry (batch_hash)
HISTORY_PREFIX = "R-"  # check_result ids derived from recorded results (the bulk import may not write these)
# A code with no grading key (A 发现问题待后续处理) found a problem: it counts as one in the check history.
PROBLEM_WITHOUT_KEY = "other_violation"


# ── reading ─────────────────────────────────────────────────────────────────────────────────────────────────


def visit_refs(
    conn: Connection,
    plan_id: str | None = None,
    keys: Iterable[tuple[str, str]] | None = None,
    *,
    limit: int | None = None,
) -> dict[tuple[str, str], VisitRef]:
    """The visits of committed plans (all, one plan's, or these keys) as validation needs them.

    The window: a visit cannot be done before its plan's period starts; it is due by its due date (or the period's
    end for plans without a schedule)."""
    v, p = store.table("plan_visit"), store.table("plan")
    stmt = sa.select(
        v.c.plan_id, v.c.visit_id, v.c.uscc, v.c["items"], v.c.team, v.c.due_on, p.c.period_start, p.c.period_end
    ).join(p, p.c.id == v.c.plan_id)
    if plan_id is not None:
        stmt = stmt.where(v.c.plan_id == plan_id)
    if limit is not None:
        stmt = stmt.order_by(v.c.plan_id, v.c.visit_id).limit(limit)
    wanted = None if keys is None else set(keys)
    if wanted is not None and not wanted:
        return {}
    out = {}
    for r in _rows_for(conn, stmt, v, wanted):
        key = (r.plan_id, r.visit_id)
        if wanted is not None and key not in wanted:
            continue
        out[key] = VisitRef(
            plan_id=r.plan_id,
            visit_id=r.visit_id,
            uscc=r.uscc,
            items=tuple(r.items),
            team=tuple(r.team),
            window_start=r.period_start,
            window_end=r.due_on or r.period_end,
        )
    return out


FEW_KEYS = 500  # up to this many visits are looked up by key; more, by their plans (one scan)


def _rows_for(conn: Connection, stmt: Any, t: sa.Table, wanted: set[tuple[str, str]] | None) -> Iterable[Any]:
    """The rows of `stmt` for these (plan, visit) keys: by key when few (one visit's record), else by plan."""
    if wanted is None:
        yield from conn.execute(stmt)
        return
    if len(wanted) <= FEW_KEYS:
        keys = sorted(wanted)
        yield from conn.execute(stmt.where(sa.tuple_(t.c.plan_id, t.c.visit_id).in_(keys)))
        return
    yield from conn.execute(stmt.where(t.c.plan_id.in_(sorted({k[0] for k in wanted}))))


def _date(value: Any) -> dt.date:
    # SQLite hands back dates from JSON-free columns as date already; keep one place that insists.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _results_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[VisitResult]:
    grouped: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
    for r in rows:
        grouped.setdefault((r["plan_id"], r["visit_id"], int(r["version"])), []).append(r)
    out = []
    for (plan_id, visit_id, version), members in sorted(grouped.items()):
        head = members[0]
        items = tuple(
            ItemResult(
                item_code=m["item_code"],
                result_codes=tuple(m["result_codes"]),
                findings=m["findings"] or "",
                measures=tuple(Measure.from_dict(x) for x in m["measures"]),
                rectification_report_on=_date(m["rectification_report_on"]) if m["rectification_report_on"] else None,
            )
            for m in sorted(members, key=lambda m: m["item_code"])
        )
        out.append(
            VisitResult(
                plan_id=plan_id,
                visit_id=visit_id,
                uscc=head["uscc"],
                completed_on=_date(head["completed_on"]),
                items=items,
                team=tuple(head["team"]),
                recorded_on=_date(head["recorded_on"]),
                recorded_by=head["recorded_by"],
                version=version,
                correction_reason=head["correction_reason"],
            )
        )
    return out


def stored_results(
    conn: Connection,
    *,
    plan_id: str | None = None,
    keys: Iterable[tuple[str, str]] | None = None,
    batch_id: str | None = None,
) -> list[VisitResult]:
    """Every recorded version (of one plan, of these visits, or of one batch), by plan, visit and version."""
    t = store.table("result_item")
    stmt = sa.select(t)
    if plan_id is not None:
        stmt = stmt.where(t.c.plan_id == plan_id)
    if batch_id is not None:
        stmt = stmt.where(t.c.batch_id == batch_id)
    wanted = None if keys is None else set(keys)
    if wanted is not None and not wanted:
        return []
    rows = [dict(r._mapping) for r in _rows_for(conn, stmt, t, wanted)]
    if wanted is not None:
        rows = [r for r in rows if (r["plan_id"], r["visit_id"]) in wanted]
    return _results_from_rows(rows)


def histories(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], History]:
    """Each visit's recorded versions, oldest first (visits without a result are absent)."""
    out: dict[tuple[str, str], History] = {}
    for r in stored_results(conn, keys=keys):
        out[r.key] = History((*out.get(r.key, History()).versions, r))
    return out


def recorder(conn: Connection, who: Identity) -> Recorder:
    """Who records, as validation knows them: an inspector by the inspector id their account is linked to
    (inspector.user_name), a supervisor by their user name."""
    if who.role is Role.INSPECTOR:
        t = store.table("inspector")
        found = conn.execute(sa.select(t.c.id).where(t.c.user_name == who.user)).scalar_one_or_none()
        if found is None:
            raise InputError(
                f"user {who.user!r} is not linked to an inspector: set 账号 (user_name) on the roster "
                "(`suijian import inspectors`), or record as a supervisor"
            )
        return Recorder(str(found), who.role.value)
    return Recorder(who.user, who.role.value)


# ── hashing (what the ledger entry vouches for) ─────────────────────────────────────────────────────────────


def batch_hash(results: Iterable[VisitResult]) -> str:
    """SHA-256 of a batch's versions in key and version order (scheme SCHEME): each version's `to_dict()` as JSON
    with sorted keys, no spaces, UTF-8, one per line — what `VisitResult.fingerprint` does for one version."""
    digest = hashlib.sha256()
    for r in sorted(results, key=lambda r: (r.plan_id, r.visit_id, r.version)):
        text = json.dumps(r.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        digest.update(text.encode("utf-8") + b"\n")
    return digest.hexdigest()


def batch_id(digest: str, who: Recorder, recorded_on: dt.date) -> str:
    """A stable id: the same versions (`batch_hash`) recorded by the same person on the same day are the same batch."""
    seed = f"{digest}|{who.id}|{recorded_on.isoformat()}"
    return "RB-" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:20]


# ── writing ─────────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Recorded:
    """What a batch wrote."""

    batch_id: str | None  # None when there was nothing new to record
    visits: int
    items: int
    corrections: int
    ledger_seq: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch_id,
            "visits": self.visits,
            "items": self.items,
            "corrections": self.corrections,
            "ledger_seq": self.ledger_seq,
        }


def history_id(plan_id: str, visit_id: str, item_code: str) -> str:
    digest = hashlib.sha256(f"{plan_id}\x1f{visit_id}\x1f{item_code}".encode()).hexdigest()
    return HISTORY_PREFIX + digest[: 40 - len(HISTORY_PREFIX)]


def history_row(result: VisitResult, item: ItemResult, codes: ResultCodes) -> dict[str, Any]:
    """The check_result row grading reads for one item of the version in force (codes as grading keys)."""
    keys = sorted(
        {codes[c].key or (PROBLEM_WITHOUT_KEY if codes[c].problem else "no_problem") for c in item.result_codes}
    )
    if "no_problem" in keys and len(keys) > 1:
        keys.remove("no_problem")
    return {
        "id": history_id(result.plan_id, result.visit_id, item.item_code),
        "uscc": result.uscc,
        "checked_on": result.completed_on,
        "item_code": item.item_code,
        "kind": "random",
        "result_codes": keys,
        "lead_inspector": result.team[0] if result.team else None,
    }


def record(
    conn: Connection,
    results: Sequence[VisitResult],
    *,
    who: Recorder,
    actor: Identity,
    recorded_on: dt.date,
    created_at: dt.datetime,
    source: str,
    file_name: str | None = None,
    file_sha256: str | None = None,
    codes: ResultCodes | None = None,
) -> Recorded:
    """Write checked results as one batch, in the caller's transaction: rows, ledger entry, derived history."""
    if not results:
        return Recorded(None, 0, 0, 0, None)
    table = codes if codes is not None else default_codes()
    chain.lock(conn)
    # Re-read under the lock: someone may have recorded one of these visits since validation read the store.
    held = histories(conn, [r.key for r in results])
    for r in results:
        expected = held.get(r.key, History()).next_version()
        if r.version != expected:
            raise InputError(
                f"visit {r.visit_id} of plan {r.plan_id}: version {expected - 1} was recorded meanwhile; "
                "read the file again (nothing was written)"
            )
    digest = batch_hash(results)
    bid = batch_id(digest, who, recorded_on)
    rows = []
    for r in results:
        fingerprint = r.fingerprint()
        for row in r.rows():
            rows.append({**row, "batch_id": bid, "fingerprint": fingerprint})
    store.bulk_insert(
        conn,
        "result_batch",
        [
            {
                "id": bid,
                "source": source,
                "file_name": file_name,
                "file_sha256": file_sha256,
                "recorded_on": recorded_on,
                "recorded_by": who.id,
                "role": who.role,
                "visits": len(results),
                "items": len(rows),
                "created_at": created_at.replace(microsecond=0),
            }
        ],
    )
    store.bulk_insert(conn, "result_item", rows)
    corrections = sum(1 for r in results if r.version > 1)
    entry = chain.append(
        conn,
        run_id=bid,
        kind=LEDGER_KIND,
        actor=actor,
        created_at=created_at,
        as_of=recorded_on,
        outputs_hash=digest,
        details={
            "scheme": SCHEME,
            "source": source,
            "file_name": file_name,
            "file_sha256": file_sha256,
            "recorded_by": who.id,
            "visits": len(results),
            "items": len(rows),
            "corrections": corrections,
        },
    )
    _derive(conn, results, table)
    return Recorded(bid, len(results), len(rows), corrections, entry.seq)


def _derive(conn: Connection, results: Sequence[VisitResult], codes: ResultCodes) -> None:
    # The check history follows the version in force: a correction replaces the derived rows of its visit (an item
    # dropped by the correction loses its row). The recorded rows in result_item are never touched.
    ids = [history_id(r.plan_id, r.visit_id, i) for r in results if r.version > 1 for i in _all_items(conn, r)]
    t = store.table("check_result")
    for chunk in _chunks(ids, 900):
        conn.execute(t.delete().where(t.c.id.in_(chunk)))
    store.bulk_insert(conn, "check_result", [history_row(r, i, codes) for r in results for i in r.items])
    v = store.table("plan_visit")
    done = v.update().where(v.c.plan_id == sa.bindparam("p"), v.c.visit_id == sa.bindparam("v")).values(status="done")
    conn.execute(done, [{"p": r.plan_id, "v": r.visit_id} for r in results])


def _all_items(conn: Connection, result: VisitResult) -> list[str]:
    if result.version == 1:
        return [i.item_code for i in result.items]
    t = store.table("result_item")
    rows = conn.execute(
        sa.select(t.c.item_code).where(t.c.plan_id == result.plan_id, t.c.visit_id == result.visit_id).distinct()
    )
    return sorted({str(x) for (x,) in rows} | {i.item_code for i in result.items})


def _chunks(values: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def township_names(conn: Connection) -> dict[str, str]:
    """Region code → name, for the task list's 所在街镇 (names, not codes)."""
    t = store.table("region")
    return {str(c): str(n) for c, n in conn.execute(sa.select(t.c.code, t.c.name))}


# ── the bulk `import results` ───────────────────────────────────────────────────────────────────────────────


def history_cutoff(conn: Connection) -> dt.date | None:
    """The first day of the earliest plan in the store: from then on, checks are plan visits and their results are
    recorded with `results record|import` (validated, versioned, in the ledger); None when there is no plan."""
    t = store.table("plan")
    return conn.execute(sa.select(sa.func.min(t.c.period_start))).scalar()


def history_problem(values: Mapping[str, Any], cutoff: dt.date | None) -> tuple[str, str] | None:
    """Why the bulk import may not load this check_result row: (field, reason), or None.

    The bulk import loads history from before the plans only, so it is no way around the checks of recorded
    results; and it never writes the rows derived from recorded results (ids starting with HISTORY_PREFIX)."""
    if str(values.get("id", "")).startswith(HISTORY_PREFIX):
        return (
            "id",
            f"ids starting with {HISTORY_PREFIX!r} are the check history of recorded results; "
            "correct a result with `suijian results record --correct REASON`",
        )
    checked = values.get("checked_on")
    if cutoff is not None and isinstance(checked, dt.date) and checked >= cutoff:
        return (
            "checked_on",
            f"{checked} is in the period of a plan in the store (from {cutoff}): results of plan visits are recorded "
            "with `suijian results import` or `suijian results record`; this import loads only earlier history",
        )
    return None
