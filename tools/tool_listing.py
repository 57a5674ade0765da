"""Which tools a session may declare to the model: the catalogue minus tools behind a disabled flag."""

from __future__ import annotations

from collections.abc import Iterable

from tools.catalogue import TOOL_ARGS
from tools.execution import Actor, tool_flag_enabled
from tools.reads import tool_flags
from tools.services import ToolServices


async def available_tools(services: ToolServices, actor: Actor, extra_excluded: Iterable[str] = ()) -> list[str]:
    excluded = set(extra_excluded)
    async with services.sessions() as session:
        flags = await tool_flags(session, set(TOOL_ARGS) - excluded)
    return [name for name in TOOL_ARGS if name in flags and tool_flag_enabled(flags[name], actor.user_id, actor.team_ids)]
