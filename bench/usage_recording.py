"""CPU cost of recording one model turn's usage, in process: what a call's event loop pays per turn.

Two figures, each the process CPU time (not wall time) per turn over N turns:
- observe: reading the Live `usage_metadata` (`TokenUsage.of`), the row, the Prometheus counters;
- record: the same plus the write through the group commit (SQLite file, one transaction per turn as on a
  quiet server; turns that end together share one).

Run: .venv/bin/python bench/usage_recording.py [--turns 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from google.genai import types  # noqa: E402

from db import accounts  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import utcnow  # noqa: E402
from tools import usage  # noqa: E402
from tools.services import build_services  # noqa: E402

METADATA = types.UsageMetadata.model_validate({
    "promptTokenCount": 1300, "responseTokenCount": 110, "totalTokenCount": 1410,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 900}, {"modality": "AUDIO", "tokenCount": 400}],
    "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 100}, {"modality": "TEXT", "tokenCount": 10}],
})


def turn(user_id: str) -> usage.Turn:
    now = time.time_ns()
    return usage.Turn("c" * 32, user_id, "gemini-3.1-flash-live-preview", usage.TokenUsage.of(METADATA), now, now)


async def measure(turns: int, directory: Path) -> tuple[float, float]:
    url = f"sqlite+aiosqlite:///{directory / 'coach.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    services = build_services(sessions=make_session_factory(engine), redis=None, secret_key="k", public_url="http://x")
    async with services.sessions() as session:
        user = await accounts.create_user(session, name="U", phone="+14155550000", email=None, timezone="UTC")
        await session.commit()
    await usage.start_conversation(services, usage.ConversationStart("c" * 32, user.id, "call", (), utcnow()))
    start = time.process_time()
    for _ in range(turns):
        usage.observe(turn(user.id))
    observe = (time.process_time() - start) / turns
    start = time.process_time()
    for _ in range(turns):
        await usage.record_turns(services, [turn(user.id)])
    record = (time.process_time() - start) / turns
    await engine.dispose()
    return observe, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        observe, record = asyncio.run(measure(options.turns, Path(directory)))
    print(f"{'step':<10} {'CPU us/turn':>12}")
    print(f"{'observe':<10} {observe * 1e6:>12.1f}")
    print(f"{'record':<10} {record * 1e6:>12.1f}")


if __name__ == "__main__":
    main()
