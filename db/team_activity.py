"""A team's action activity in figures: how many of its actions were requested, executed, auto-approved,
confirmed, rejected, expired, failed and denied, in total, by tool and by member.

Figures count ACTIONS, not history rows (a row is one step of an action's life). A team's actions are those
its policy governed (`action_teams`), and an action is in a time range when it was REQUESTED in it (its
first step, `action_teams.requested_at`); all its steps count, whenever they came. Each `action_teams` row
is the team's roll-up of one action, kept by every step's write (`tools.audit`): which kinds of step it has
had (`steps`) and its last denial's code, so a summary reads one row per action and no history.

What each figure means, from the kinds of step an action has had (the one place these are defined,
`figures_of`):

| figure          | an action counts when it has had ...                                                |
|-----------------|-------------------------------------------------------------------------------------|
| `requested`     | any step                                                                            |
| `executed`      | an `executed` step                                                                  |
| `auto_approved` | an `executed` step and no `proposed` step (policy let it run without asking)        |
| `confirmed`     | a `confirmed` step (a person said yes; it then executed, failed or was denied)      |
| `rejected`      | a `cancelled` step (a person said no)                                               |
| `expired`       | an `expired` step (nobody answered in time)                                         |
| `failed`        | a `failed` step and no `executed` step (a retry that succeeded is not a failure)    |
| `denied`        | a `denied` step and none of executed, failed, cancelled, expired (how it ended)     |
| `pending`       | none of executed, failed, denied, cancelled, expired (still waiting, or running)    |

So `requested = executed + failed + denied + rejected + expired + pending`, and every rate is a figure over
`requested` (and `auto_approved_of_executed`). `denied_by_code` splits `denied` by the code of the action's
last denial. A denial that did not end the action (an admin of another team trying to approve it, say) is
in the history, not in `denied`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ACTION_STEP_BITS, ActionTeam

FIGURES = ("requested", "executed", "auto_approved", "confirmed", "rejected", "expired", "failed", "denied", "pending")


@dataclass(frozen=True)
class ActivityFilter:
    """Actions of `team_id` requested in [since, until), of one member when `user_id` is set."""

    team_id: str
    since: datetime
    until: datetime
    user_id: str | None = None


@dataclass
class Figures:
    """The figures of a set of actions; `denied_by_code` splits `denied`."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIGURES, 0))
    denied_by_code: dict[str, int] = field(default_factory=dict)

    def add(self, counts: dict[str, int], denied_code: str | None) -> None:
        for name in FIGURES:
            self.counts[name] += counts[name]
        if denied_code is not None and counts["denied"]:
            self.denied_by_code[denied_code] = self.denied_by_code.get(denied_code, 0) + counts["denied"]

    def to_json(self) -> dict[str, Any]:
        return {**self.counts, "denied_by_code": dict(sorted(self.denied_by_code.items()))}


@dataclass
class Summary:
    total: Figures = field(default_factory=Figures)
    by_tool: dict[str, Figures] = field(default_factory=dict)
    by_user: dict[str, Figures] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.total.to_json(),
            "rates": rates(self.total.counts),
            "by_tool": {tool: figures.to_json() for tool, figures in sorted(self.by_tool.items())},
            "by_user": {user: figures.to_json() for user, figures in sorted(self.by_user.items())},
        }


def rates(counts: dict[str, int]) -> dict[str, float | None]:
    """Each figure as a share of `requested`, and `auto_approved` of `executed` (None when nothing to divide)."""

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    shares = {name: share(counts[name], counts["requested"]) for name in FIGURES if name != "requested"}
    return {**shares, "auto_approved_of_executed": share(counts["auto_approved"], counts["executed"])}


def _has(steps: int, *statuses: str) -> bool:
    return any(steps & ACTION_STEP_BITS[status] for status in statuses)


def figures_of(steps: int) -> dict[str, int]:
    """Which figures an action counts in (1) or not (0), from its `steps` bits: the table above."""
    ended = _has(steps, "executed", "failed", "cancelled", "expired")
    counted = {
        "requested": True,
        "executed": _has(steps, "executed"),
        "auto_approved": _has(steps, "executed") and not _has(steps, "proposed"),
        "confirmed": _has(steps, "confirmed"),
        "rejected": _has(steps, "cancelled"),
        "expired": _has(steps, "expired"),
        "failed": _has(steps, "failed") and not _has(steps, "executed"),
        "denied": _has(steps, "denied") and not ended,
        "pending": not ended and not _has(steps, "denied"),
    }
    return {name: int(value) for name, value in counted.items()}


async def summary(session: AsyncSession, narrowed: ActivityFilter) -> Summary:
    """The figures of the team's actions in the range, in total, by tool and by member: one query over the
    team's roll-up rows, grouped by (member, tool, kinds of step, denial code)."""
    link = ActionTeam
    query = (
        select(link.user_id, link.tool, link.steps, link.denied_code, func.count())
        .where(link.team_id == narrowed.team_id, link.requested_at >= narrowed.since, link.requested_at < narrowed.until)
        .group_by(link.user_id, link.tool, link.steps, link.denied_code)
    )
    if narrowed.user_id is not None:
        query = query.where(link.user_id == narrowed.user_id)
    result = Summary()
    for user_id, tool, steps, denied_code, actions in (await session.execute(query)).all():
        counts = {name: flag * actions for name, flag in figures_of(steps).items()}
        by_tool = result.by_tool.setdefault(tool, Figures())
        by_user = result.by_user.setdefault(user_id, Figures())
        for figures in (result.total, by_tool, by_user):
            figures.add(counts, denied_code)
    return result
