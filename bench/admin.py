"""Team analytics at scale (PostgreSQL): the summary, by type and by member, the feedback analytics, the audit
export's memory, and the retention purge beside a concurrent action writer.

Data: one team of 200 members; `--actions` actions (their history steps: ~1.6 per action in the mix
below), three trace steps per action and `--feedback` feedback rows, spread evenly over 400 days; generated
in the database with INSERT ... SELECT over generate_series (about 7 rows per action in all).

Measured:
- p95 over `--calls` calls of `db.team_activity.summary` for the last 30 days (the whole team: totals, by
  tool, by member; and one member), and of the feedback analytics for 30 days (query + analysis);
- the export of `--export-days` days over HTTP from a real server process (`coach serve`): time, bytes and
  the growth of the process's peak RSS (VmHWM) during the export;
- the purge of about `--purge-rows` rows (the team's retention set so that the oldest actions holding that
  many rows fall out) while a task dispatches `create_task` actions back to back: the purge's time, and the
  longest a concurrent action write took during it against its p50 before.

Run: .venv/bin/python bench/admin.py [--actions 1000000] [--feedback 50000] [--calls 50]
Smoke: .venv/bin/python bench/admin.py --actions 20000 --feedback 1000 --calls 10 --purge-rows 20000
Again on a kept database: .venv/bin/python bench/admin.py --database URL --retention-days 300
Environment: COACH_TEST_POSTGRES (admin DSN, default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import httpx
from services import create_postgres_database, drop_postgres_database
from sqlalchemy import text

from db import accounts, retention
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import ACTION_STEP_BITS, TeamAISettings
from db.team_activity import ActivityFilter, summary
from db.team_feedback import feedback_entries
from tools.dispatch import Actor, dispatch
from tools.feedback_insights import feedback_summary
from tools.services import build_services

MEMBERS = 200
SPAN_DAYS = 400
TARGET_P95_MS = 150.0
TARGET_BLOCKED_MS = 100.0
NOW = datetime.now(UTC)
TOOLS = ["create_task", "send_sms", "send_email", "schedule_reminder", "create_calendar_event", "make_voice_call"]
# The life of action i is pattern i % 20: (step number, status, error code).
PATTERNS = (
    [(p, 0, "executed", None) for p in range(10)]
    + [(p, step, status, None) for p in range(10, 14) for step, status in enumerate(["proposed", "confirmed", "executed"])]
    + [(p, step, status, None) for p in (14, 15) for step, status in enumerate(["proposed", "cancelled"])]
    + [(16, 0, "proposed", None), (16, 1, "expired", None)]
    + [(17, 0, "failed", "SERVICE_UNAVAILABLE"), (18, 0, "denied", "RATE_LIMITED")]
    + [(19, 0, "failed", "SERVICE_UNAVAILABLE"), (19, 1, "executed", None)]
)
REASONS = ["wrong recipient", "wrong time", "not now", "wrong content", ""]


def rollups() -> dict[int, tuple[int, str | None]]:
    """Each pattern's `action_teams` roll-up (steps bits, last denial's code), as `tools.audit` keeps it."""
    rolled: dict[int, tuple[int, str | None]] = {}
    for pattern, _, status, code in PATTERNS:
        steps, denied = rolled.get(pattern, (0, None))
        rolled[pattern] = (steps | ACTION_STEP_BITS[status], code if status == "denied" else denied)
    return rolled


def generation_sql(actions: int, feedback: int) -> list[str]:
    """Statements that fill the tables; `:team` is bound, members are the team's users by row number."""
    span = f"interval '{SPAN_DAYS} days'"
    # Action i: requested at now - span * (1 - i/N) (oldest first), by member i % 200, tool i % 6.
    action = f"""
        SELECT i, md5('a' || i) AS action_id, m.user_id, (ARRAY{TOOLS})[1 + i % {len(TOOLS)}] AS tool,
               now() - {span} * (1 - i::float / {actions}) AS at
        FROM generate_series(1, {actions}) i JOIN bench_members m ON m.n = i % {MEMBERS}"""
    every = max(actions // max(feedback, 1), 1)
    return [
        f"CREATE TEMP TABLE bench_actions AS {action}",
        "CREATE TEMP TABLE bench_patterns (p int, step int, status text, code text)",
        "INSERT INTO bench_patterns VALUES " + ", ".join(
            f"({p}, {step}, '{status}', {repr(code) if code else 'NULL'})" for p, step, status, code in PATTERNS
        ),
        "CREATE TEMP TABLE bench_rollup (p int, steps int, denied_code text)",
        "INSERT INTO bench_rollup VALUES " + ", ".join(
            f"({p}, {steps}, {repr(code) if code else 'NULL'})" for p, (steps, code) in rollups().items()
        ),
        """INSERT INTO action_teams (id, action_id, team_id, requested_at, user_id, tool, steps, denied_code)
           SELECT md5('t' || i), a.action_id, :team, a.at, a.user_id, a.tool, r.steps, r.denied_code
           FROM bench_actions a JOIN bench_rollup r ON r.p = a.i % 20""",
        """INSERT INTO agent_action_history (id, user_id, team_id, action_id, tool, status, source, payload,
               confidence, risk_level, error_code, created_at)
           SELECT md5('h' || i || '-' || s.step), a.user_id, :team, a.action_id, a.tool, s.status, 'voice',
                  '{"title": "bench"}', 0.9, 'low', s.code, a.at + s.step * interval '20 seconds'
           FROM bench_actions a JOIN bench_patterns s ON s.p = a.i % 20""",
        """INSERT INTO agent_execution_traces (id, action_id, user_id, trace_type, data, latency_ms, created_at)
           SELECT md5('x' || i || '-' || k), a.action_id, a.user_id, (ARRAY['tool_call', 'decision_point', 'tool_result'])[k],
                  '{"outcome": "bench"}', k * 3.5, a.at + k * interval '1 millisecond'
           FROM bench_actions a CROSS JOIN generate_series(1, 3) k""",
        f"""INSERT INTO agent_action_feedback (id, user_id, action_id, feedback_type, rating, comment,
               time_to_decision_ms, created_at)
           SELECT md5('f' || i), a.user_id, a.action_id,
                  CASE WHEN a.i % 20 IN (14, 15) THEN 'rejected' WHEN a.i % 20 BETWEEN 10 AND 13 THEN 'approved'
                       WHEN a.i % 3 = 0 THEN 'thumbs_down' ELSE 'thumbs_up' END,
                  NULL, (ARRAY{REASONS})[1 + (a.i / 20) % {len(REASONS)}], 2000 + (a.i::bigint * 7919) % 60000,
                  a.at + interval '1 minute'
           FROM bench_actions a WHERE a.i % {every} = 0 LIMIT {feedback}""",
    ]


async def generate(url: str, actions: int, feedback: int) -> tuple[str, list[str]]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    async with sessions() as session:
        team = await accounts.create_team(session, name="Bench team")
        users = []
        for n in range(MEMBERS):
            user = await accounts.create_user(session, name=f"Member {n}", phone=None, email=f"m{n}@bench.example", timezone="UTC")
            await accounts.add_member(session, team_id=team.id, user_id=user.id, role="admin" if n == 0 else "member")
            users.append(user.id)
        await session.commit()
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TEMP TABLE bench_members (n int, user_id text)"))
        await connection.execute(
            text("INSERT INTO bench_members VALUES (:n, :user_id)"), [{"n": n, "user_id": u} for n, u in enumerate(users)]
        )
        for statement in generation_sql(actions, feedback):
            started = time.perf_counter()
            await connection.execute(text(statement), {"team": team.id})
            print(f"  {statement.split()[0]} {statement.split()[2]:<24} {time.perf_counter() - started:6.1f} s", flush=True)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE"))
    await engine.dispose()
    return team.id, users


def p(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def time_calls(calls: int, call) -> list[float]:  # type: ignore[no-untyped-def]
    await call()
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def measure_queries(url: str, team: str, member: str, calls: int) -> list[tuple[str, list[float]]]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    since, until = NOW - timedelta(days=30), NOW

    async def team_summary(user_id: str | None = None) -> None:
        async with sessions() as session:
            await summary(session, ActivityFilter(team, since, until, user_id))

    async def one_member() -> None:
        await team_summary(member)

    async def feedback() -> None:
        async with sessions() as session:
            feedback_summary(await feedback_entries(session, team, since, until))

    try:
        return [
            ("summary 30 d (totals, by tool, by member)", await time_calls(calls, team_summary)),
            ("summary 30 d, one member", await time_calls(calls, one_member)),
            ("feedback summary 30 d", await time_calls(calls, feedback)),
        ]
    finally:
        await engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


async def measure_export(url: str, team: str, admin: str, days: int) -> dict[str, float]:
    engine = make_engine(url)
    async with make_session_factory(engine)() as session:
        token = (await accounts.issue_token(session, admin)).secret
        await session.commit()
    await engine.dispose()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "COACH_SECRET_KEY": "bench-" + "k" * 40, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        [sys.executable, "-c", f"import sys; from server.cli import main; sys.exit(main(['serve', '--port', '{port}', '--no-worker']))"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=None) as client:
            for _ in range(200):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            headers = {"Authorization": f"Bearer {token}"}
            params = {"since": (NOW - timedelta(days=days)).isoformat(), "until": NOW.isoformat(), "format": "ndjson"}
            warm = {**params, "since": (NOW - timedelta(days=1)).isoformat()}
            assert (await client.get(f"/api/admin/teams/{team}/export", headers=headers, params=warm)).status_code == 200
            before = rss_kib(server.pid, "VmRSS")
            started, size, lines = time.perf_counter(), 0, 0
            async with client.stream("GET", f"/api/admin/teams/{team}/export", headers=headers, params=params) as response:
                assert response.status_code == 200
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            elapsed = time.perf_counter() - started
            peak = rss_kib(server.pid, "VmHWM")
        return {"days": days, "lines": lines, "mb": size / 1e6, "seconds": elapsed, "rss_before_mb": before / 1024,
                "peak_growth_mb": (peak - before) / 1024}
    finally:
        server.terminate()
        server.wait(timeout=30)


async def measure_purge(
    url: str, team: str, writer_id: str, purge_rows: int, actions: int, retention_days: int | None = None
) -> dict[str, float]:
    """Set the team's retention so the oldest ~`purge_rows` rows fall out, then purge while a task dispatches
    actions back to back; the write's p50 before the purge, its worst during it."""
    rows_per_action = 1.6 + 3 + 1 + 0.05
    days = max(retention.MIN_RETENTION_DAYS, round(SPAN_DAYS * (1 - purge_rows / rows_per_action / actions)))
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    services = build_services(sessions=sessions, redis=None, secret_key="bench", public_url="http://localhost")
    actor = Actor(writer_id, "api", {team: "member"})
    writes: list[tuple[float, float]] = []  # (start, ms)
    stop = asyncio.Event()

    async def writer() -> None:
        n = 0
        while not stop.is_set():
            started = time.perf_counter()
            result = await dispatch(services, actor, "create_task", {"title": f"during purge {n}"}, confidence=0.9)
            assert result.success, result
            writes.append((started, (time.perf_counter() - started) * 1000))
            n += 1

    longest_lock_wait = 0.0

    async def lock_waits() -> None:
        """The longest any backend has waited for a lock (pg_locks.waitstart), sampled every 5 ms."""
        nonlocal longest_lock_wait
        async with engine.connect() as connection:
            while not stop.is_set():
                waited = await connection.scalar(
                    text("SELECT coalesce(max(extract(epoch FROM clock_timestamp() - waitstart)), 0) FROM pg_locks WHERE NOT granted")
                )
                longest_lock_wait = max(longest_lock_wait, float(waited) * 1000)
                await asyncio.sleep(0.005)

    days = retention_days or days
    async with sessions() as session:
        (await session.get(TeamAISettings, team)).retention_days = days
        await session.commit()
    task = asyncio.create_task(writer())
    await asyncio.sleep(5)
    sampler = asyncio.create_task(lock_waits())
    purge_started = time.perf_counter()
    purged = await retention.purge(sessions, NOW)
    purge_seconds = time.perf_counter() - purge_started
    stop.set()
    await task
    await sampler
    await services.close()
    await engine.dispose()
    before = [ms for started, ms in writes if started < purge_started]
    during = [ms for started, ms in writes if started >= purge_started]
    return {
        "retention_days": days, "rows": sum(purged.rows.values()), "transactions": purged.transactions,
        "seconds": purge_seconds, "writes_during": len(during), "write_p50_before_ms": statistics.median(before),
        "write_p50_during_ms": statistics.median(during), "write_max_during_ms": max(during),
        "write_max_before_ms": max(before), "longest_lock_wait_ms": longest_lock_wait,
    }


async def generated(url: str) -> tuple[str, list[str]]:
    """The team and members of a database an earlier run generated (`--database`)."""
    engine = make_engine(url)
    async with engine.connect() as connection:
        team = await connection.scalar(text("SELECT id FROM teams WHERE name = 'Bench team'"))
        users = list(await connection.scalars(
            text("SELECT u.id FROM users u JOIN team_members m ON m.user_id = u.id ORDER BY u.email = 'm0@bench.example' DESC, u.email")
        ))
    await engine.dispose()
    return team, users


async def run(options: argparse.Namespace, url: str) -> None:
    started = time.perf_counter()
    if options.database:
        team, users = await generated(url)
    else:
        print(f"generating {options.actions} actions, {options.feedback} feedback rows over {SPAN_DAYS} days", flush=True)
        team, users = await generate(url, options.actions, options.feedback)
        print(f"generated in {time.perf_counter() - started:.0f} s\n", flush=True)
    print(f"{'query (PostgreSQL)':<44} {'calls':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, timings in await measure_queries(url, team, users[1], options.calls):
        verdict = "ok" if p(timings, 0.95) < TARGET_P95_MS else "MISSED"
        print(f"{name:<44} {len(timings):>6} {p(timings, .5):>8.1f} {p(timings, .95):>8.1f} {max(timings):>8.1f}  {verdict}")
    exported = await measure_export(url, team, users[0], options.export_days)
    print(
        f"\nexport {exported['days']} d (NDJSON, real server): {exported['lines']:.0f} lines, {exported['mb']:.0f} MB in "
        f"{exported['seconds']:.1f} s; server RSS {exported['rss_before_mb']:.0f} MB before, peak growth "
        f"{exported['peak_growth_mb']:.1f} MB"
    )
    purge = await measure_purge(url, team, users[2], options.purge_rows, options.actions, options.retention_days)
    verdict = "ok" if purge["longest_lock_wait_ms"] < TARGET_BLOCKED_MS else "MISSED"
    print(
        f"\npurge (retention {purge['retention_days']} d): {purge['rows']} rows in {purge['transactions']} transactions, "
        f"{purge['seconds']:.1f} s; concurrent create_task writes: {purge['writes_during']} during, p50 "
        f"{purge['write_p50_before_ms']:.1f} ms before / {purge['write_p50_during_ms']:.1f} ms during, longest "
        f"{purge['write_max_during_ms']:.1f} ms during (before: {purge['write_max_before_ms']:.1f} ms); longest lock wait "
        f"of any backend during the purge {purge['longest_lock_wait_ms']:.1f} ms  {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=1_000_000)
    parser.add_argument("--feedback", type=int, default=50_000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--export-days", type=int, default=90)
    parser.add_argument("--purge-rows", type=int, default=1_000_000)
    parser.add_argument("--retention-days", type=int, help="the team's retention for the purge (default: from --purge-rows)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    parser.add_argument("--database", help="measure a database an earlier --keep run generated (kept as well)")
    options = parser.parse_args()
    options.keep = options.keep or bool(options.database)
    url = options.database or create_postgres_database()
    print(url if options.keep else "", end="\n" if options.keep else "")
    try:
        upgrade(url)
        asyncio.run(run(options, url))
    finally:
        if not options.keep:
            drop_postgres_database(url)


if __name__ == "__main__":
    main()
