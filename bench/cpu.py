"""CPU seconds of processes, read from /proc (Linux): what a benchmark's parts cost, each in its own process."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` so far; 0 when it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def pids_whose_command(matches: Callable[[str], bool]) -> list[int]:
    """Processes whose command line (arguments joined by spaces) `matches`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if matches(command):
                found.append(int(entry.name))
    return found


class CpuMeter:
    """CPU spent by groups of processes between `start()` and `stop()`; a process that appears in between
    (a new database backend) counts from zero."""

    def __init__(self, groups: dict[str, Callable[[], Iterable[int]]]) -> None:
        self.groups = groups
        self._before: dict[int, float] = {}
        self.seconds: dict[str, float] = {}

    def start(self) -> None:
        self._before = {pid: cpu_seconds(pid) for pids in self.groups.values() for pid in pids()}

    def stop(self) -> dict[str, float]:
        self.seconds = {
            name: sum(max(cpu_seconds(pid) - self._before.get(pid, 0.0), 0.0) for pid in pids())
            for name, pids in self.groups.items()
        }
        return self.seconds
