"""Proposal -> card on the home page, across server processes: how long until a pending action proposed through
one server shows as a card in the browser of someone whose page is served by another.

Two `coach serve --no-worker` processes on one PostgreSQL database and one Redis (a temporary database,
created and dropped here). Chromium shows `/` from process A, signed in by a session cookie; the proposals
(`POST /api/actions`, `create_task` with a low confidence, so it waits for a yes at any hour of the day)
go to process B one after another. A MutationObserver in the page records `Date.now()` when each card enters
the DOM; the proposal's send time is taken just before its request (same machine, same clock). Also prints
the bytes of JavaScript the home page loads.

Run: .venv/bin/python bench/pending_cards.py [--proposals 50]
Environment: COACH_TEST_POSTGRES (admin DSN, default postgresql://postgres@127.0.0.1:5432/test),
COACH_TEST_REDIS (default redis://127.0.0.1:6379/0), CHROMIUM (default: chromium on the PATH).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import httpx
from playwright.async_api import Page, async_playwright
from services import check_redis, create_postgres_database, drop_postgres_database

from db import accounts, web_sessions
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from server.web.cookies import SESSION_COOKIE, signed

TARGET_P95_MS = 500.0
SECRET = "bench-secret-key-not-for-production"
WATCH_CARDS = """
window.cardSeen = {};
new MutationObserver(() => {
  for (const card of document.querySelectorAll('[data-testid="pending-action"]')) {
    window.cardSeen[card.dataset.actionId] ??= Date.now();
  }
}).observe(document, { childList: true, subtree: true });
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def coach_server(database_url: str, redis_url: str) -> Iterator[str]:
    """One `coach serve` process; yields its base URL once it answers /healthz."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "COACH_SECRET_KEY": SECRET,
           "PUBLIC_URL": f"http://127.0.0.1:{port}", "NO_PROXY": "127.0.0.1,localhost"}
    coach = shutil.which("coach", path=str(Path(sys.executable).parent)) or "coach"
    process = subprocess.Popen([coach, "serve", "--no-worker", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"coach serve on port {port} did not start")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(10)


async def person(database_url: str) -> tuple[str, str]:
    """A new user: their API token and a signed session cookie."""
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            user = await accounts.create_user(session, name="Bench", phone=None, email=None, timezone="UTC")
            token = (await accounts.issue_token(session, user.id)).secret
            started = await web_sessions.start(
                session, user_id=user.id, signed_in_with="token", user_agent="bench", now=datetime.now(UTC)
            )
            await session.commit()
    finally:
        await engine.dispose()
    return token, signed(started.secret, SECRET)


@asynccontextmanager
async def home_page(base_url: str, cookie: str) -> AsyncIterator[Page]:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium)
        try:
            context = await browser.new_context(base_url=base_url, bypass_csp=True)  # for the probes only
            await context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": base_url}])
            page = await context.new_page()
            await page.add_init_script(WATCH_CARDS)
            await page.goto("/")
            await page.wait_for_function(
                "document.querySelector('#pending-section')['htmx-internal-data']?.sseEventSource?.readyState === 1"
            )
            yield page
        finally:
            await browser.close()


async def javascript_bytes(page: Page) -> list[tuple[str, int]]:
    """Every script the page loaded (as its path) with its size, decoded."""
    entries = await page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.endsWith('.js'))"
        ".map(e => [new URL(e.name).pathname, e.decodedBodySize])"
    )
    return [(path, int(size)) for path, size in entries]


async def measure(proposals: int, base_a: str, base_b: str, token: str, cookie: str) -> tuple[list[float], list[tuple[str, int]]]:
    latencies = []
    async with home_page(base_a, cookie) as page, httpx.AsyncClient(base_url=base_b, trust_env=False) as http:
        for number in range(proposals):
            sent = time.time() * 1000
            response = await http.post(
                "/api/actions", headers={"Authorization": f"Bearer {token}"},
                json={"tool": "create_task", "args": {"title": f"Bench task {number}"}, "confidence": 0.2},
            )
            assert response.json().get("needs_confirmation"), response.text
            action_id = response.json()["pending_action_id"]
            await page.wait_for_function(f"window.cardSeen[{action_id!r}] !== undefined", timeout=10_000)
            latencies.append(await page.evaluate(f"window.cardSeen[{action_id!r}]") - sent)
            await asyncio.sleep(0.05)
        return latencies, await javascript_bytes(page)


def report(latencies: list[float], scripts: list[tuple[str, int]]) -> None:
    ordered = sorted(latencies)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    header = f"{'proposals':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
    print(header)
    print("-" * len(header))
    print(f"{len(ordered):>9} {statistics.median(ordered):>8.1f} {p95:>8.1f} {ordered[-1]:>8.1f}")
    verdict = "met" if p95 < TARGET_P95_MS else "MISSED"
    print(f"\ntarget p95 < {TARGET_P95_MS:g} ms (page on process A, proposals to process B): {verdict}")
    print("\nJavaScript the home page loads:")
    for path, size in scripts:
        print(f"  {path:<45} {size:>8} bytes")
    print(f"  {'total':<45} {sum(size for _, size in scripts):>8} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=50)
    args = parser.parse_args()
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    database_url, redis_url = create_postgres_database(), check_redis()
    try:
        upgrade(database_url)
        token, cookie = asyncio.run(person(database_url))
        with coach_server(database_url, redis_url) as base_a, coach_server(database_url, redis_url) as base_b:
            latencies, scripts = asyncio.run(measure(args.proposals, base_a, base_b, token, cookie))
        report(latencies, scripts)
    finally:
        drop_postgres_database(database_url)


if __name__ == "__main__":
    main()
