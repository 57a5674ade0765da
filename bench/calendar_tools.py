"""CPU cost of the calendar work done per tool call: sealing/opening a token, ranking a week of slots,
rendering an ICS feed.

Run: .venv/bin/python bench/calendar_tools.py (not calendar.py: that would shadow the standard library module)
"""

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from policy.quiet_hours import LocalWindow, parse_hhmm  # noqa: E402
from tools.calendar.ics import render_calendar  # noqa: E402
from tools.calendar.providers import Busy  # noqa: E402
from tools.calendar.slots import rank_slots  # noqa: E402
from tools.channels.sealing import TokenSealer  # noqa: E402

NOW = datetime(2026, 11, 24, 19, tzinfo=UTC)
ZONE = "Europe/Berlin"
REPEATS = 5


def best_ms(run: Callable[[], object], times: int) -> float:
    """Best of several runs of `times` calls, per call."""
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(times):
            run()
        best = min(best, (time.perf_counter() - started) / times)
    return best * 1000


def main() -> None:
    sealer = TokenSealer("bench-secret")
    sealed = sealer.seal("user", "google.access_token", "ya29." + "x" * 160)
    busy = [Busy(NOW + timedelta(hours=h), NOW + timedelta(hours=h, minutes=45)) for h in range(0, 168, 3)]
    completions = [NOW - timedelta(days=d, hours=h) for d in range(14) for h in (2, 9, 13)]
    windows = [LocalWindow(ZONE, parse_hhmm("08:00"), parse_hhmm("21:00")), LocalWindow(ZONE, parse_hhmm("09:00"), parse_hhmm("17:00"))]
    events = [
        SimpleNamespace(id=f"e{i}", title=f"Event {i}, with; escapes", description="notes\n" * 5, location="Room 1",
                        start_at=NOW + timedelta(hours=i), end_at=NOW + timedelta(hours=i, minutes=30), created_at=NOW)
        for i in range(500)
    ]
    rows = [
        ("seal one token", best_ms(lambda: sealer.seal("user", "google.access_token", "ya29.token"), 2000)),
        ("open one token", best_ms(lambda: sealer.open("user", "google.access_token", sealed), 2000)),
        ("rank 7 days (56 busy, 42 completions)", best_ms(
            lambda: rank_slots(now=NOW, zone=ZoneInfo(ZONE), duration=timedelta(minutes=30), windows=windows,
                               busy=busy, completions=completions), 20)),
        ("render ICS, 500 events", best_ms(lambda: render_calendar(events), 20)),
    ]
    print(f"{'operation':<40} {'ms per call':>12}")
    for name, ms in rows:
        print(f"{name:<40} {ms:>12.3f}")


if __name__ == "__main__":
    main()
