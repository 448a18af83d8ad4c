"""Auditing the decision ledger (决策台账): is the chain intact, do the stored runs still match it, who re-drew.

`verify` recomputes every hash the ledger recorded — the chain itself, each entry's content, the outputs of
every grade run and plan, every input snapshot and rule-pack version — and checks the other way too: every
grade run and plan in the store has its entry. Each problem names the run (and its place in the chain) and
says in one line what is wrong. It reads only; an attacker with write access to the database can rewrite the
whole chain consistently, which is why a published head hash (`--head`) is checked as well.

`redraws` lists every decision an auditor of draw integrity wants to see: re-draws, replaced seed
commitments and previews, with who, when, why and for which scope.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine import pack_verify
from engine.ledger import canonical, chain, outputs, packs, plan_columns, plan_reader, record, runs, snapshot
from engine.progress import Progress, no_progress
from engine.results import verify as results_verify
from entities import store
from entities.errors import InputError


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with the run it concerns (if any) and its place in the chain (if it has one)."""

    code: str  # gap | chain | edited | content | columns | swapped | scheme | grade_run | outputs | plan | snapshot | pack | approval | unrecorded | head
    message: str
    run_id: str | None = None
    seq: int | None = None

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "run_id": self.run_id, "seq": self.seq, "message": self.message}


@dataclass
class VerifyReport:
    entries: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    head: tuple[int, str] = (0, chain.GENESIS)
    blobs: dict[str, int] = field(default_factory=lambda: {"snapshot": 0, "pack": 0})
    problems: list[Problem] = field(default_factory=list)
    published: dict[str, Any] | None = None  # the --head that was asked for: found where, how many follow

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "kinds": dict(self.kinds),
            "head": {"seq": self.head[0], "hash": self.head[1]},
            "blobs": {**self.blobs, "checked": sum(self.blobs.values())},
            "published_head": self.published,
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class _Row:
    seq: int
    run_id: str
    kind: str
    created_at: dt.datetime
    body_text: str
    prev_hash: str
    entry_hash: str
    body: dict[str, Any] | None  # None: the stored text is not a JSON object

    @property
    def name(self) -> str:
        return f"{self.run_id} (#{self.seq})"

    def schemes(self) -> dict[str, str] | None:
        """The hashing schemes the entry was written with; None if it names one this suijian does not know."""
        try:
            return canonical.schemes_of(self.body or {})
        except canonical.UnknownScheme:
            return None

    def scheme_problem(self) -> Problem | None:
        try:
            canonical.schemes_of(self.body or {})
        except canonical.UnknownScheme as exc:
            return Problem("scheme", f"{self.name}: cannot be checked: {exc}", self.run_id, self.seq)
        return None


def check_head_hash(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise InputError(f"--head {text!r} is not a ledger hash (64 hex digits, as `suijian plan` prints it)")
    return value


def _rows(conn: Connection) -> list[_Row]:
    t = store.table("ledger")
    rows = []
    for r in conn.execute(
        sa.select(t.c.seq, t.c.run_id, t.c.kind, t.c.created_at, t.c.body, t.c.prev_hash, t.c.entry_hash).order_by(
            t.c.seq
        )
    ):
        try:
            body = json.loads(r.body)
        except (TypeError, json.JSONDecodeError):
            body = None
        rows.append(
            _Row(
                int(r.seq),
                str(r.run_id),
                str(r.kind),
                r.created_at,
                str(r.body),
                str(r.prev_hash),
                str(r.entry_hash),
                body if isinstance(body, dict) else None,
            )
        )
    return rows


def _ids(conn: Connection, name: str) -> set[str]:
    t = store.table(name)
    return {str(v) for v in conn.execute(sa.select(t.c.id)).scalars()}


def verify(conn: Connection, expect_head: str | None = None, *, progress: Progress = no_progress) -> VerifyReport:
    """Check the whole ledger and everything it vouches for; every problem found, in chain order."""
    expected = check_head_hash(expect_head) if expect_head is not None else None
    # Read the runs before the entries: a run and its entry are committed together, so a run committed while
    # we read is either invisible here or has its entry visible below (never a false "no ledger entry").
    grade_ids, plan_ids = _ids(conn, "grade_run"), _ids(conn, "plan")
    approvals = pack_verify.stored(conn)
    rows = _rows(conn)
    report = VerifyReport(entries=len(rows), kinds=dict(Counter(r.kind for r in rows)))
    if rows:
        report.head = (rows[-1].seq, rows[-1].entry_hash)
    problems = _chain_problems(rows)
    blob_users: dict[tuple[str, str, str], list[_Row]] = {}
    grade_entries = {r.run_id: r for r in rows if r.kind == "grade" and r.body is not None}
    readable = {r.run_id: (r.kind, r.seq, r.body) for r in rows if r.body is not None}
    checked: list[tuple[_Row, dict[str, str], list[Problem], list[Problem]]] = []
    for row in rows:
        if row.body is None:
            continue
        schemes = row.schemes()
        if schemes is None:
            continue  # named in the chain problems: nothing of it can be recomputed
        content = _content_problems(row, rows)
        recorded_blobs: list[Problem] = []  # an entry that records no snapshot or pack version
        if not any(p.code == "swapped" for p in content):
            for key in _blobs_of(row, recorded_blobs, schemes):
                blob_users.setdefault(key, []).append(row)
        checked.append((row, schemes, content, recorded_blobs))
    # The costly checks that need no connection — a city's grade results read (in a child process) and hashed, a
    # plan document inflated and hashed — run in threads while this one hashes the snapshots, which needs the
    # connection: the two cores are used together. What needs the connection is read here first.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify") as pool:
        later: dict[int, Any] = {}
        for row, schemes, content, _ in checked:
            if any(p.code == "swapped" for p in content):
                continue
            if row.kind == "grade" and row.run_id in grade_ids:
                later[row.seq] = _grade_outputs_later(conn, row, schemes, pool)
            elif row.kind == "plan" and row.run_id in plan_ids:
                later[row.seq] = _plan_document_later(conn, row, pool)
        ordered = sorted(blob_users.items(), key=lambda kv: (kv[1][0].seq, kv[0]))
        blob_problems: list[Problem] = []
        for done, ((kind, digest, scheme), users) in enumerate(ordered):
            progress("核对快照与规则包 verifying blobs", done, len(blob_users))
            report.blobs[kind] += 1
            problem = _blob_problem(conn, kind, digest, scheme, users)
            if problem is not None:
                blob_problems.append(problem)
        progress("核对快照与规则包 verifying blobs", len(blob_users), len(blob_users))
        for done, (row, schemes, content, recorded_blobs) in enumerate(checked, 1):
            progress("核对台账 verifying entries", done - 1, len(checked))
            body = row.body or {}  # (every entry checked here has one)
            problems += content
            if any(p.code == "swapped" for p in content):
                continue  # the content is another entry's: checking runs and blobs against it would only add noise
            if row.kind == "grade":
                problems += _grade_problems(conn, row, row.run_id in grade_ids, later.get(row.seq))
            elif row.kind == "plan":
                problems += _plan_problems(row, later.get(row.seq), schemes, grade_entries)
            elif row.kind in results_verify.KINDS:
                findings = results_verify.entry_findings(conn, row.kind, row.name, row.run_id, body)
                problems += [Problem(code, message, run_id, row.seq) for code, message, run_id in findings]
            elif row.kind in (*pack_verify.KINDS, "publish"):
                findings = pack_verify.entry_findings(conn, row.kind, row.name, row.run_id, row.seq, body, readable)
                problems += [Problem(code, message, run_id, row.seq) for code, message, run_id in findings]
            problems += recorded_blobs
        progress("核对台账 verifying entries", len(checked), len(checked))
    problems.sort(key=lambda p: p.seq or 0)  # stable: an entry's problems together, chain problems first
    report.problems = problems
    problems += blob_problems
    recorded = {(r.kind, r.run_id) for r in rows}
    for kind, ids, what in (("grade", grade_ids, "grade run"), ("plan", plan_ids, "plan")):
        for run_id in sorted(ids):
            if (kind, run_id) not in recorded:
                problems.append(
                    Problem(
                        "unrecorded",
                        f"{run_id}: {what} without a ledger entry (inserted outside suijian, or its entry was deleted)",
                        run_id,
                    )
                )
    problems += [Problem(c, m, run_id) for c, m, run_id in results_verify.unrecorded(conn, recorded)]
    problems += [Problem(c, m, run_id) for c, m, run_id in pack_verify.unrecorded(approvals, readable)]
    if expected is not None:
        found = next((r for r in rows if r.entry_hash == expected), None)
        if found is None:
            problems.append(
                Problem(
                    "head",
                    f"published head {expected[:16]}… is not in the ledger: the chain was "
                    "rewritten since it was published (or the hash is mistyped)",
                )
            )
        else:
            report.published = {
                "hash": expected,
                "seq": found.seq,
                "run_id": found.run_id,
                "following": sum(1 for r in rows if r.seq > found.seq),
            }
    return report


def _chain_problems(rows: list[_Row]) -> list[Problem]:
    """Gaps in the numbering, and links that do not point at the entry before."""
    problems: list[Problem] = []
    by_hash = {r.entry_hash: r for r in rows}
    previous: _Row | None = None
    for row in rows:
        want = 1 if previous is None else previous.seq + 1
        if row.seq > want:
            missing = f"#{want}" if row.seq == want + 1 else f"#{want}–#{row.seq - 1}"
            what = "an entry was" if row.seq == want + 1 else "entries were"
            problems.append(
                Problem(
                    "gap",
                    f"{missing} missing: seq jumps from {want - 1} to {row.seq} ({what} deleted before {row.run_id})",
                    row.run_id,
                    row.seq,
                )
            )
        elif row.seq < want:
            problems.append(
                Problem(
                    "gap", f"{row.name}: seq {row.seq} is out of order (the ledger starts at #1)", row.run_id, row.seq
                )
            )
        link = chain.GENESIS if previous is None else previous.entry_hash
        if row.prev_hash != link:
            other = by_hash.get(row.prev_hash)
            expected = "the start of the ledger (genesis)" if previous is None else f"#{previous.seq} {previous.run_id}"
            if other is not None and other is not row:
                message = (
                    f"chain broken: previous hash is that of #{other.seq} {other.run_id}, not of {expected} — "
                    "entries were reordered here"
                )
            elif row.prev_hash == chain.GENESIS:
                message = f"chain broken: previous hash is the genesis hash, not that of {expected} — entries before it were deleted or it was inserted"
            else:
                message = (
                    f"chain broken: previous hash does not match {expected} — an entry was deleted, inserted "
                    "or reordered here"
                )
            problems.append(Problem("chain", f"{row.name}: {message}", row.run_id, row.seq))
        unknown = row.scheme_problem() if row.body is not None else None
        if unknown is not None:
            problems.append(unknown)
        elif chain.entry_hash(row.prev_hash, row.body_text, (row.schemes() or {})["chain"]) != row.entry_hash:
            problems.append(
                Problem("edited", f"{row.name}: entry edited: its hash does not match its content", row.run_id, row.seq)
            )
        if row.body is None:
            problems.append(
                Problem(
                    "content", f"{row.name}: entry unreadable: its content is not a JSON object", row.run_id, row.seq
                )
            )
        previous = row
    return problems


def _content_problems(row: _Row, rows: list[_Row]) -> list[Problem]:
    """The columns used to find entries must say what the hashed content says."""
    body = row.body or {}
    if body.get("seq") != row.seq and body.get("run_id") != row.run_id:
        owner = next((r for r in rows if r.run_id == body.get("run_id") and r is not row), None)
        where = f" (now stored as #{owner.seq})" if owner is not None else ""
        return [
            Problem(
                "swapped",
                f"{row.name}: holds the content of #{body.get('seq')} {body.get('run_id')}{where}"
                " — entries were swapped or reordered",
                row.run_id,
                row.seq,
            )
        ]
    found = {"seq": row.seq, "run_id": row.run_id, "kind": row.kind, "created_at": row.created_at.isoformat()}
    wrong = [f"{k} {found[k]!s} (its content says {body.get(k)!s})" for k in found if body.get(k) != found[k]]
    if body.get("kind") not in chain.KINDS:
        wrong.append(f"kind {body.get('kind')!r} is not a ledger entry kind")
    if not wrong:
        return []
    what = "entries were renumbered or reordered" if body.get("seq") != row.seq else "a column was edited"
    return [Problem("columns", f"{row.name}: stored {'; '.join(wrong)} — {what}", row.run_id, row.seq)]


def _changed(pairs: Iterable[tuple[str, Any, Any]]) -> list[str]:
    """`column value (the ledger says value)` for each column whose stored value differs from the entry's."""
    return [f"{name} {ours} (the ledger says {theirs})" for name, ours, theirs in pairs if ours != theirs]


def _seconds(value: dt.datetime | None) -> str | None:
    """A created_at column as the entry records it: ISO 8601 to the second (the entry drops microseconds)."""
    return None if value is None else value.replace(microsecond=0, tzinfo=None).isoformat()


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _grade_outputs_later(
    conn: Connection, row: _Row, schemes: dict[str, str], pool: ThreadPoolExecutor
) -> Callable[[], str]:
    """The hash of the grade run's stored outputs, as a function to call for it: its outcomes are read now (with
    `conn`), and a city's results read in a child process and hashed in `pool` meanwhile; smaller runs' results
    (and a city's the child could not read) are read through `conn` when the hash is asked for, in this thread."""
    t = store.table("grade_run")
    subjects = conn.execute(sa.select(t.c.subjects).where(t.c.id == row.run_id)).scalar_one()
    canon, _ = outputs.stored_outcomes(conn, row.run_id, schemes["outcome"])
    read = outputs.results_in_child(conn, row.run_id, subjects or 0)

    def in_child() -> str | None:
        assert read is not None
        results = read()
        return None if results is None else outputs.grade_outputs_hash(results, canon, schemes["outputs"])

    future = pool.submit(in_child) if read is not None else None

    def digest() -> str:
        found = future.result() if future is not None else None
        if found is None:
            found = outputs.grade_outputs_hash(outputs.stored_results(conn, row.run_id), canon, schemes["outputs"])
        return found

    return digest


def _grade_problems(conn: Connection, row: _Row, exists: bool, outputs_hash: Callable[[], str] | None) -> list[Problem]:
    """Every column of the grade_run row against the entry, and the stored outcomes against its outputs hash
    (`outputs_hash`, from _grade_outputs_later; None when the run is missing)."""
    body = row.body or {}
    if not exists or outputs_hash is None:
        return [
            Problem(
                "grade_run",
                f"{row.name}: grade run missing: no grade_run row {row.run_id} in the store "
                "(deleted, or the entry was forged)",
                row.run_id,
                row.seq,
            )
        ]
    problems = []
    t = store.table("grade_run")
    run = conn.execute(sa.select(t).where(t.c.id == row.run_id)).one()
    pack: dict[str, Any] = body["pack"] if isinstance(body.get("pack"), dict) else {}
    details: dict[str, Any] = body["details"] if isinstance(body.get("details"), dict) else {}
    versions: dict[str, Any] = body["versions"] if isinstance(body.get("versions"), dict) else {}
    changed = _changed(
        (
            ("as_of", _iso(run.as_of), body.get("as_of")),
            ("pack_name", run.pack_name, pack.get("name")),
            ("pack_version", run.pack_version, pack.get("version")),
            ("pack_hash", run.pack_hash, pack.get("hash")),
            ("engine_version", run.engine_version, versions.get("suijian")),
            ("subjects", run.subjects, details.get("subjects")),
            ("outcomes", run.outcomes, details.get("outcomes")),
            ("created_at", _seconds(run.created_at), body.get("created_at")),
        )
    )
    if changed:
        problems.append(
            Problem("grade_run", f"{row.name}: grade_run row changed: {'; '.join(changed)}", row.run_id, row.seq)
        )
    if outputs_hash() != body.get("outputs_hash"):
        problems.append(
            Problem(
                "outputs",
                f"{row.name}: outputs changed: grade_outcome/grade_result no longer hash to the recorded outputs",
                row.run_id,
                row.seq,
            )
        )
    return problems


def _regions(text: str) -> list[str]:
    """A plan row's regions column as a scope lists them (order and spacing are not facts)."""
    return sorted({r.strip() for r in text.split(",") if r.strip()}) or ["*"]


@dataclass(frozen=True)
class _PlanRead:
    """A plan row, its stored document, and the document's read (plan_reader.read) under way in a thread."""

    plan: Any
    blob: bytes
    read: Future[plan_reader.Read]


def _plan_document_later(conn: Connection, row: _Row, pool: ThreadPoolExecutor) -> _PlanRead:
    """The plan row of the entry, its document read (inflated, hashed) in `pool`: a city's takes seconds."""
    body = row.body or {}
    t = store.table("plan")
    plan = conn.execute(sa.select(t).where(t.c.id == row.run_id)).one()
    details0: dict[str, Any] = body["details"] if isinstance(body.get("details"), dict) else {}
    scope0: dict[str, Any] = details0["scope"] if isinstance(details0.get("scope"), dict) else {}
    # The document is read a piece at a time (a city's is hundreds of MB) and parsed only when the entry does not
    # say itself what the plan row is checked against (entries of early releases).
    period0 = scope0.get("period")
    needed = not (isinstance(period0, dict) and period0) or scope0.get("regions") is None
    needed = needed or details0.get("visits") is None
    blob = bytes(plan.document) if plan.document is not None else b""
    return _PlanRead(plan, blob, pool.submit(plan_reader.read, blob, parse=needed))


def _plan_problems(
    row: _Row,
    stored: _PlanRead | None,
    schemes: dict[str, str],
    grade_entries: dict[str, _Row],
) -> list[Problem]:
    """Every column of the plan row against the entry: the document by the outputs hash, the rest by the entry's
    fields, or by the document the entry pins where the entry itself does not hold the value (`stored`, from
    _plan_document_later; None when the plan row is missing)."""
    body = row.body or {}
    if stored is None:
        return [
            Problem(
                "plan",
                f"{row.name}: plan missing: no plan row {row.run_id} in the store (deleted, or the entry was forged)",
                row.run_id,
                row.seq,
            )
        ]
    plan, blob = stored.plan, stored.blob
    problems = []
    document: dict[str, Any] = {}  # the plan document (but its visits), when it is the one the entry pins
    listed: int | None = None  # how many visits the document lists, when it is the one the entry pins
    try:
        read = stored.read.result()
    except plan_reader.Unreadable as exc:
        # plan/3 documents are a zip of head and Parquet visits; plan/1 and /2 compressed UTF-8 text.
        what = f"a damaged columnar document ({exc})" if plan_columns.is_columnar(blob) else "not compressed UTF-8 text"
        problems.append(Problem("outputs", f"{row.name}: plan document unreadable: {what}", row.run_id, row.seq))
    else:
        digest = outputs.plan_outputs_digest(read.digest, schemes["outputs"])
        if digest != body.get("outputs_hash"):
            problems.append(
                Problem(
                    "outputs",
                    f"{row.name}: plan document changed: it no longer hashes to the recorded outputs",
                    row.run_id,
                    row.seq,
                )
            )
        else:
            if digest != plan.sha256:
                problems.append(
                    Problem(
                        "plan",
                        f"{row.name}: plan row changed: its sha256 column no longer matches its document",
                        row.run_id,
                        row.seq,
                    )
                )
            document = read.header or {}
            listed = read.visits
    details: dict[str, Any] = body["details"] if isinstance(body.get("details"), dict) else {}
    scope: dict[str, Any] = details["scope"] if isinstance(details.get("scope"), dict) else {}
    period: dict[str, Any] = scope["period"] if isinstance(scope.get("period"), dict) else {}
    if not period and isinstance(document.get("period"), dict):
        period = document["period"]
    regions = scope.get("regions")
    if regions is None and isinstance(document.get("regions"), list):
        regions = _regions(",".join(str(r) for r in document["regions"]))
    visits = details.get("visits")
    if visits is None and listed is not None:
        visits = listed
    # The plan row's pack_hash is its grade run's (the pack that graded the population), as that run's entry says.
    grade = grade_entries.get(str(details.get("grade_run")))
    grade_pack = (grade.body or {}).get("pack") if grade is not None else body.get("pack")
    pairs: list[tuple[str, Any, Any]] = [
        ("seed", plan.seed, body.get("seed")),
        ("as_of", _iso(plan.as_of), body.get("as_of")),
        ("grade_run_id", plan.grade_run_id, details.get("grade_run")),
        ("pack_hash", plan.pack_hash, grade_pack.get("hash") if isinstance(grade_pack, dict) else None),
        ("visits", plan.visits, visits),
        ("period", plan.period, period.get("label")),
        ("period_start", _iso(plan.period_start), period.get("start")),
        ("period_end", _iso(plan.period_end), period.get("end")),
        ("created_at", _seconds(plan.created_at), body.get("created_at")),
    ]
    changed = _changed(pairs)
    if regions is not None and _regions(plan.regions) != regions:
        changed.append(f"regions {plan.regions} (the ledger says {','.join(regions)})")
    if changed:
        problems.append(Problem("plan", f"{row.name}: plan row changed: {'; '.join(changed)}", row.run_id, row.seq))
    return problems


def _blobs_of(row: _Row, problems: list[Problem], schemes: dict[str, str]) -> Iterable[tuple[str, str, str]]:
    """The snapshot and pack version an entry vouches for (grade and plan must have both; previews and pack
    proposals a pack)."""
    body = row.body or {}
    if row.kind not in ("grade", "plan", "preview", "publish", "pack-proposal"):
        return
    pack = body.get("pack")
    files_hash = pack.get("files_hash") if isinstance(pack, dict) else None
    if isinstance(files_hash, str):
        yield ("pack", files_hash, schemes.get("pack_files", canonical.PACK_FILES))
    elif row.kind != "publish" or pack is not None:
        problems.append(Problem("content", f"{row.name}: records no rule-pack version", row.run_id, row.seq))
    digest = body.get("snapshot_hash")
    if isinstance(digest, str):
        yield ("snapshot", digest, schemes.get("snapshot", canonical.SNAPSHOT))
    elif row.kind in ("grade", "plan"):
        problems.append(Problem("content", f"{row.name}: records no input snapshot", row.run_id, row.seq))
    details = body.get("details")
    more = details.get(runs.PLAN_FEATURES) if row.kind == "grade" and isinstance(details, dict) else None
    if isinstance(more, str):  # the further features a grade run kept for plans (a snapshot blob of its own)
        yield ("snapshot", more, schemes.get("snapshot", canonical.SNAPSHOT))


def _blob_problem(conn: Connection, kind: str, digest: str, scheme: str, users: list[_Row]) -> Problem | None:
    try:
        if kind == "snapshot":
            snapshot.check(conn, digest, scheme)
        else:
            packs.fetch(conn, digest, scheme)
    except InputError as exc:
        label = "snapshot" if kind == "snapshot" else "rule-pack version"
        why = exc.why if isinstance(exc, packs.PackVersionProblem) else str(exc).removeprefix(f"{label} {digest[:12]} ")
        names = ", ".join(u.name for u in users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3 else "")
        return Problem(kind, f"{label} {digest[:12]} (used by {names}): {why}", users[0].run_id, users[0].seq)
    return None


# -- re-draws -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redraw:
    """A re-draw, a replaced seed commitment or a preview, as the ledger recorded it."""

    seq: int
    created_at: dt.datetime
    user: str
    role: str
    kind: str  # plan | commit | preview
    run_id: str
    scope: str  # engine.ledger.record.describe
    scope_detail: dict[str, Any] | None  # regions, items, period as recorded
    replaces: list[str]  # the committed plans re-drawn, or the seed commitment replaced
    reason: str | None
    seed_sha256: str | None
    seed_commitment: str | None  # the commitment a re-drawn plan revealed

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "created_at": self.created_at.isoformat(),
            "user": self.user,
            "role": self.role,
            "kind": self.kind,
            "run_id": self.run_id,
            "scope": self.scope,
            "scope_detail": self.scope_detail,
            "replaces": list(self.replaces),
            "reason": self.reason,
            "seed_sha256": self.seed_sha256,
            "seed_commitment": self.seed_commitment,
        }


def _scope_text(details: dict[str, Any]) -> str:
    scope = details.get("scope")
    try:
        return record.describe(scope) if isinstance(scope, dict) else "(no scope recorded)"
    except (KeyError, TypeError):
        return "(unreadable scope)"


def redraws(conn: Connection) -> list[Redraw]:
    """Every re-draw, replaced seed commitment and preview in chain order."""
    found = []
    for e in chain.entries(conn, kinds=("plan", "commit", "preview")):
        d = e.details
        if e.kind == "plan" and d.get("redraw"):
            replaces = [str(x) for x in d.get("redraw_of") or []]
        elif e.kind == "commit" and (d.get("redraw") or d.get("replaces")):
            replaces = [str(d["replaces"])] if d.get("replaces") else []
        elif e.kind == "preview":
            replaces = []
        else:
            continue
        found.append(
            Redraw(
                seq=e.seq,
                created_at=e.created_at,
                user=str(e.actor.get("user", "")),
                role=str(e.actor.get("role", "")),
                kind=e.kind,
                run_id=e.run_id,
                scope=_scope_text(d),
                scope_detail=d.get("scope") if isinstance(d.get("scope"), dict) else None,
                replaces=replaces,
                reason=d.get("reason"),
                seed_sha256=d.get("seed_sha256"),
                seed_commitment=d.get("seed_commitment") if e.kind == "plan" else None,
            )
        )
    return found


def first_draws(conn: Connection) -> list[dict[str, Any]]:
    """Per scope (as recorded), the plans drawn first and how many re-draws followed; for context."""
    scopes: dict[str, dict[str, Any]] = {}
    for e in chain.entries(conn, kinds=("plan",)):
        d = e.details
        key = json.dumps(d.get("scope"), sort_keys=True)
        entry = scopes.setdefault(key, {"scope": _scope_text(d), "first_draws": [], "redraws": 0})
        if d.get("redraw"):
            entry["redraws"] += 1
        else:
            entry["first_draws"].append(e.run_id)
    return list(scopes.values())
