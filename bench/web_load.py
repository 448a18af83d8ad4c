"""Benchmark (not a test): the inspector's week page and subject page under a bounded load against `suijian serve`
on 127.0.0.1, p50/p95 per page, with the cheapest signed-in page of the same server measured in the same run.

    python bench/web_load.py --db sqlite:////tmp/copy-of-baiyun.db                    # 200 requests a page
    python bench/web_load.py --db sqlite:////tmp/copy-of-guangzhou.db --requests 400 --clients 2
    prlimit --as=$((8*1024**3)) python bench/web_load.py --db …                        # memory-capped

It WRITES to the store: an inspector account `webbench` (password below) linked to the roster inspector with the most
visits in the newest plan (that inspector's 登录账号 becomes `webbench` unless it has one, which is then used as the
account's name) — run it on a copy of a store you care about. Then it starts `suijian serve` on a free loopback
port, signs in through the login form, and requests, in this order, each --requests times (round robin over the
inspector's weeks and visits, --clients threads at a time):

  baseline   GET /            the home page: session lookup + a template, the floor of every page of this server
  week       GET /inspector/week?week=…     my visits of one week by township (engine.my_visits.my_list)
  subject    GET /inspector/visits/P/V      the subject page (visit, items, result; why comes in a second request)
  why        GET …/why        `explain --run` for the subject, cold (each a different subject: replays the plan's
             inputs and pack) — only --why times (default 3), then the same subjects again from the process's cache

Figures are milliseconds of wall time seen by the client (the server and the client share the machine's 2 cores).

Measured on this project's 2-core machine while other work ran (read the ratios, not the milliseconds):
  see README ("Web app") for the figures of the run at baiyun (and guangzhou where a planned store was at hand).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ACCOUNT = "webbench"
PASSWORD = "webbench-password-123456"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def prepare(db: str) -> tuple[str, list[str], list[tuple[str, str]]]:
    """The account to sign in as, the weeks of its inspector's visits and the (plan, visit) keys, in date order."""
    import datetime as dt

    import sqlalchemy as sa

    from engine import plan_visits
    from engine.access import accounts
    from engine.plan.calendar import week_label
    from entities import store
    from entities.identity import Role

    engine = store.open_store(db)
    try:
        with engine.begin() as conn:
            plan_id, _ = plan_visits.plan_row(conn, None)
            plan_visits.ensure_visit_rows(conn, plan_id)
            t = store.table(plan_visits.TABLE)
            counts: collections.Counter[str] = collections.Counter()
            for (team,) in conn.execute(sa.select(t.c.team).where(t.c.plan_id == plan_id)):
                counts.update(team)
            if not counts:
                raise SystemExit(f"plan {plan_id} has no visits")
            busiest = counts.most_common(1)[0][0]
            i = store.table("inspector")
            user = conn.execute(sa.select(i.c.user_name).where(i.c.id == busiest)).scalar_one()
            if user is None:
                user = ACCOUNT
                conn.execute(i.update().where(i.c.id == busiest).values(user_name=user))
            if accounts.find(conn, user) is None:
                now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
                accounts.add(conn, user, Role.INSPECTOR, PASSWORD, display=user, now=now)
            rows = plan_visits.read_visit_rows(conn, plan_id, team_member=busiest)
    finally:
        engine.dispose()
    weeks = sorted({week_label(r["scheduled_on"]) for r in rows if r["scheduled_on"]})
    print(f"plan {plan_id}: inspector {busiest} on {len(rows):,} visits in {len(weeks)} weeks; account {user}")
    return user, weeks, [(r["plan_id"], r["visit_id"]) for r in rows]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(db: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-c", "from cli import main; main()", "serve", "--port", str(port), "--db", db],
        cwd=tempfile.gettempdir(),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise SystemExit(f"suijian serve exited: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit("suijian serve did not listen within 120 s") from None
            time.sleep(0.2)


def sign_in(base: str, user: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=600, follow_redirects=False)
    token = CSRF.search(client.get("/login").text)
    assert token is not None
    done = client.post("/login", data={"name": user, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"})
    assert done.status_code == 303, f"sign-in failed ({done.status_code}): use a store where {user} has {PASSWORD}"
    return client


def load(clients: Sequence[httpx.Client], urls: Sequence[str], headers: dict[str, str] | None = None) -> list[float]:
    """GET every url (round robin over the clients, one thread each); the latencies in ms, each response checked."""
    times: list[float] = []
    lock = threading.Lock()
    queue = collections.deque(urls)

    def worker(client: httpx.Client) -> None:
        while True:
            with lock:
                if not queue:
                    return
                url = queue.popleft()
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"GET {url}: {response.status_code} {response.text[:300]}")
            with lock:
                times.append(elapsed)

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return times


def row(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    return (
        f"{name:<22}{len(times):>6}{statistics.median(ordered):>10.1f}{p95:>10.1f}{ordered[-1]:>10.1f}"
        f"{statistics.fmean(ordered):>10.1f}"
    )


def cycle(values: Sequence[Any], n: int, make: Callable[[Any], str]) -> list[str]:
    return [make(values[k % len(values)]) for k in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="The store (a copy: an account is written to it).")
    parser.add_argument("--requests", type=int, default=200, help="Requests per page (default 200).")
    parser.add_argument("--clients", type=int, default=1, help="Concurrent signed-in clients (default 1).")
    parser.add_argument("--why", type=int, default=3, help="Cold `why` requests, each a new subject (default 3).")
    args = parser.parse_args()
    user, weeks, visits = prepare(args.db)
    port = free_port()
    log = Path(tempfile.gettempdir()) / f"web_load-{port}.log"
    server = serve(args.db, port, log)
    try:
        base = f"http://127.0.0.1:{port}"
        clients = [sign_in(base, user) for _ in range(args.clients)]
        load(clients, ["/", *cycle(weeks, 3, lambda w: f"/inspector/week?week={w}")])  # warm the server up
        n = args.requests

        def visit_url(key: tuple[str, str], tail: str = "") -> str:
            return "/inspector/visits/" + "/".join(urllib.parse.quote(k, safe="") for k in key) + tail

        results = [
            ("baseline GET /", load(clients, ["/"] * n)),
            ("week page", load(clients, cycle(weeks, n, lambda w: f"/inspector/week?week={w}"))),
            ("subject page", load(clients, cycle(visits, n, visit_url))),
        ]
        cold = visits[: args.why]
        if cold:
            hx = {"HX-Request": "true"}
            results.append(("why (cold, replay)", load(clients[:1], [visit_url(k, "/why") for k in cold], hx)))
            results.append(("why (cached)", load(clients, cycle(cold, n, lambda k: visit_url(k, "/why")), hx)))
        print(f"{'page':<22}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'mean ms':>10}")
        for name, times in results:
            print(row(name, times))
        for c in clients:
            c.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
