"""Where dispatch reads the facts it decides on: the user with their settings and teams, what is recorded
under the action id, the recipient's consent and the tool's flag.

For one action, a session: the caller's, lent while still open, or one opened on first use. For a claim of
scheduled jobs, `Preloaded` holds those reads for every job of the claim, loaded in one query per kind of
fact, and a job that needs nothing more never opens a session to read: a job's own read transaction (pool
checkout and ping, BEGIN, five queries, ROLLBACK) cost about a third of a scheduled job's CPU.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import accounts, consent
from db.models import AgentActionHistory, ConsentRecord, FeatureFlag

RECORDED_STATUSES = ("executed", "proposed")
"""History statuses that settle an action id: run again, it returns what was recorded."""


@dataclass
class Preloaded:
    """Reads answered ahead for a batch of actions; a key that is absent was not loaded (a key mapped to
    None or [] was loaded and found nothing)."""

    users: dict[str, accounts.UserAndTeams | None] = field(default_factory=dict)
    recorded: dict[str, list[AgentActionHistory]] = field(default_factory=dict)
    consent: dict[tuple[str, str], ConsentRecord] = field(default_factory=dict)
    """The newest record per (address, channel), for every address in `consent_addresses`."""
    consent_addresses: set[str] = field(default_factory=set)
    flags: dict[str, FeatureFlag | None] = field(default_factory=dict)
    """By tool name."""

    @classmethod
    async def load(
        cls, session: AsyncSession, user_ids: Iterable[str], action_ids: Iterable[str], tools: Iterable[str]
    ) -> Preloaded:
        """The users (with the consent of their phone and email on every channel), the recorded outcomes of
        the action ids and the flags of the tools, in four queries."""
        users = await accounts.users_and_teams(session, set(user_ids))
        addresses = {
            address for found in users.values() if found for address in (found.user.phone, found.user.email) if address
        }
        wanted_actions = set(action_ids)
        recorded = await recorded_actions(session, wanted_actions)
        return cls(
            users=users,
            recorded={action_id: recorded.get(action_id, []) for action_id in wanted_actions},
            consent=await consent.latest_by_address(session, addresses),
            consent_addresses=addresses,
            flags=await tool_flags(session, set(tools)),
        )


class Reads:
    """The reads of one action: answered from `preloaded` where it holds them, else in a session."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        lent: AsyncSession | None = None,
        preloaded: Preloaded | None = None,
    ) -> None:
        self._sessions = sessions
        self._session = lent
        self._preloaded = preloaded or Preloaded()

    def session(self) -> AsyncSession:
        """The session for reads nothing answered ahead (opened on first use)."""
        if self._session is None:
            self._session = self._sessions()
        return self._session

    async def close(self) -> None:
        """End the read transaction and return its connection; what was loaded stays usable."""
        if self._session is not None:
            await self._session.close()

    async def user_and_teams(self, user_id: str) -> accounts.UserAndTeams | None:
        if user_id in self._preloaded.users:
            return self._preloaded.users[user_id]
        return (await accounts.users_and_teams(self.session(), {user_id})).get(user_id)

    async def recorded(self, action_id: str) -> list[AgentActionHistory]:
        """History rows that settled `action_id` (executed or proposed)."""
        if action_id in self._preloaded.recorded:
            return self._preloaded.recorded[action_id]
        return (await recorded_actions(self.session(), {action_id})).get(action_id, [])

    async def latest_consent(self, address: str, channel: str) -> ConsentRecord | None:
        if address in self._preloaded.consent_addresses:
            return self._preloaded.consent.get((address, channel))
        return await consent.latest(self.session(), address, channel)

    async def tool_flag(self, tool: str) -> FeatureFlag | None:
        if tool in self._preloaded.flags:
            return self._preloaded.flags[tool]
        return (await tool_flags(self.session(), {tool}))[tool]


async def recorded_actions(session: AsyncSession, action_ids: set[str]) -> dict[str, list[AgentActionHistory]]:
    if not action_ids:
        return {}
    rows = (
        await session.scalars(
            select(AgentActionHistory).where(
                AgentActionHistory.action_id.in_(action_ids), AgentActionHistory.status.in_(RECORDED_STATUSES)
            )
        )
    ).all()
    found: dict[str, list[AgentActionHistory]] = {}
    for row in rows:
        found.setdefault(row.action_id, []).append(row)
    return found


async def tool_flags(session: AsyncSession, tools: set[str]) -> dict[str, FeatureFlag | None]:
    """Each tool's flag (`tool:<name>`), None for a tool with no flag."""
    names = {f"tool:{tool}": tool for tool in tools}
    rows = (await session.scalars(select(FeatureFlag).where(FeatureFlag.name.in_(names)))).all() if names else []
    found: dict[str, FeatureFlag | None] = dict.fromkeys(tools)
    found.update((names[flag.name], flag) for flag in rows)
    return found
