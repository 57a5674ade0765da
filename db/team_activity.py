"""A team's action activity in figures: how many of its actions were requested, executed, auto-approved,
confirmed, rejected, expired, failed and denied, in total, by tool and by member.

Figures count ACTIONS, not history rows (a row is one step of an action's life). A team's actions are those
its policy governed (`action_teams`), and an action is in a time range when it was REQUESTED in it (its
first step, `action_teams.requested_at`); all its steps count, whenever they came.

What each figure means, from the set of step statuses an action has (the one place these are defined):

| figure          | an action counts when it has ...                                                    |
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
`requested` (or, for the auto-approval rate, `auto_approved / executed`). `denied_by_code` splits `denied`
by the refusal's error code. A denial that did not end the action (an admin of another team trying to
approve it, say) is in the history, not in `denied`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ActionTeam, AgentActionHistory

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


def _has(status: str) -> Any:
    """1 when the action has a step of `status`, else 0 (an aggregate over the action's steps)."""
    return func.max(case((AgentActionHistory.status == status, 1), else_=0)).label(status)


def _per_action(narrowed: ActivityFilter) -> Any:
    """One row per action of the range: who, which tool, which kinds of step it has, its denial's code."""
    step = AgentActionHistory
    query = (
        select(
            func.min(step.user_id).label("user_id"),
            func.min(step.tool).label("tool"),
            *(_has(status) for status in ("proposed", "confirmed", "executed", "failed", "denied", "cancelled", "expired")),
            func.max(case((step.status == "denied", step.error_code))).label("denied_code"),
        )
        .join(ActionTeam, ActionTeam.action_id == step.action_id)
        .where(
            ActionTeam.team_id == narrowed.team_id,
            ActionTeam.requested_at >= narrowed.since,
            ActionTeam.requested_at < narrowed.until,
            # No step precedes its action's request: this bounds the steps read by the same range.
            step.created_at >= narrowed.since,
        )
        .group_by(step.action_id)
    )
    if narrowed.user_id is not None:
        query = query.where(step.user_id == narrowed.user_id)
    return query.subquery("action")


def _ended_by_denial(action: Any) -> Any:
    """1 when the action's denial is how it ended (none of executed, failed, cancelled, expired), else 0."""
    return action.c.denied * _none_of([action.c.executed, action.c.failed, action.c.cancelled, action.c.expired])


def _counted(action: Any) -> dict[str, Any]:
    """The figures of the table above as SQL over `_per_action`'s flags (each 0 or 1)."""
    ended = [action.c.executed, action.c.failed, action.c.cancelled, action.c.expired, action.c.denied]
    return {
        "requested": func.count(),
        "executed": func.sum(action.c.executed),
        "auto_approved": func.sum(action.c.executed * (1 - action.c.proposed)),
        "confirmed": func.sum(action.c.confirmed),
        "rejected": func.sum(action.c.cancelled),
        "expired": func.sum(action.c.expired),
        "failed": func.sum(action.c.failed * (1 - action.c.executed)),
        "denied": func.sum(_ended_by_denial(action)),
        "pending": func.sum(_none_of(ended)),
    }


def _none_of(flags: Iterable[Any]) -> Any:
    product: Any = 1
    for flag in flags:
        product = product * (1 - flag)
    return product


async def summary(session: AsyncSession, narrowed: ActivityFilter) -> Summary:
    """The figures of the team's actions in the range, in total, by tool and by member: one query, grouped
    by (member, tool, code of the denial that ended the action)."""
    action = _per_action(narrowed)
    figures = _counted(action)
    ending_denial = case((_ended_by_denial(action) == 1, action.c.denied_code))
    query = select(
        action.c.user_id, action.c.tool, ending_denial.label("denied_code"),
        *(cast(expression, Integer).label(name) for name, expression in figures.items()),
    ).group_by(action.c.user_id, action.c.tool, ending_denial)
    result = Summary()
    for row in (await session.execute(query)).mappings():
        counts = {name: int(row[name] or 0) for name in FIGURES}
        by_tool = result.by_tool.setdefault(row["tool"], Figures())
        by_user = result.by_user.setdefault(row["user_id"], Figures())
        for figures_of in (result.total, by_tool, by_user):
            figures_of.add(counts, row["denied_code"])
    return result
