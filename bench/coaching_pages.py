"""Time to serve the coaching-data pages (/habits with 30 days of completions each, /goals, /tasks, /contacts)
with 100 rows each, over real HTTP to a real server on SQLite, signed in by a session cookie.

Run: PYTHONPATH=. .venv/bin/python bench/coaching_pages.py
"""

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from factories import DAYTIME, new_user  # noqa: E402
from worlds import scratch_voice_world  # noqa: E402

from db import web_sessions  # noqa: E402
from db.models import Contact, Goal, Habit, HabitCompletion, Task  # noqa: E402
from server.web.cookies import SESSION_COOKIE, signed  # noqa: E402

ROWS, REQUESTS = 100, 30


async def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        async with scratch_voice_world(Path(d)) as world:
            user = await new_user(world.data)
            async with world.data.sessions() as s:
                for i in range(ROWS):
                    h = Habit(user_id=user.id, name=f"Habit {i}", reminder_time="07:30")
                    s.add(h); await s.flush()
                    for day in range(30):
                        s.add(HabitCompletion(habit_id=h.id, user_id=user.id, completed_on=(DAYTIME - timedelta(days=day)).date()))
                    s.add(Goal(user_id=user.id, title=f"Goal {i}", progress=i))
                    s.add(Task(user_id=user.id, title=f"Task {i}"))
                    s.add(Contact(user_id=user.id, name=f"C {i}", email=f"c{i}@example.org"))
                started = await web_sessions.start(s, user_id=user.id, signed_in_with="token", user_agent="m", now=world.data.services.clock())
                await s.commit()
            cookies = {SESSION_COOKIE: signed(started.secret, world.settings.COACH_SECRET_KEY)}
            for path in ("/habits", "/goals", "/tasks", "/contacts"):
                times = []
                for _ in range(REQUESTS):
                    t = time.perf_counter()
                    r = await world.http.get(path, cookies=cookies)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200
                times.sort()
                print(f"{path}: {ROWS} rows, {len(r.content)} bytes, p50 {statistics.median(times):.1f} ms, p95 {times[int(0.95*len(times))-1]:.1f} ms")

if __name__ == "__main__":
    asyncio.run(main())
