"""Which tools a session may declare to the model: the catalogue minus tools behind a disabled flag."""

from __future__ import annotations

from collections.abc import Iterable

from tools.catalogue import TOOL_ARGS
from tools.execution import Actor, tool_flag_enabled
from tools.services import ToolServices


async def available_tools(services: ToolServices, actor: Actor, extra_excluded: Iterable[str] = ()) -> list[str]:
    excluded = set(extra_excluded)
    async with services.sessions() as session:
        return [
            name
            for name in TOOL_ARGS
            if name not in excluded and await tool_flag_enabled(session, name, actor.user_id, actor.team_ids)
        ]
