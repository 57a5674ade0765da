"""What an executor is given: one database session and the facts of the action it carries out; and what a
preparer returns before policy is asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User
from policy.effective import EffectiveSettings
from tools.catalogue import ToolArgs
from tools.services import ToolServices


@dataclass
class Execution:
    session: AsyncSession
    services: ToolServices
    user: User
    settings: EffectiveSettings
    action_id: str
    source: str
    now: datetime
    attempted_since: datetime | None = None
    """When an earlier attempt of this action may have reached a provider (see `dispatch`), since when."""
    approved_by: str | None = None
    """The action whose recorded human yes covers this one; a reminder or sequence it sets up keeps it."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.zone)


@dataclass(frozen=True)
class Prepared:
    """A tool's arguments pinned down before policy, proposal and execution see them, and the words for a
    confirmation question ("remind you by text every weekday at 6:30 am, ...")."""

    args: ToolArgs
    summary: str | None = None


# (arguments, the user's zone, now, source) -> Prepared; raises ToolFailure for arguments that cannot work.
Preparer = Callable[[ToolArgs, ZoneInfo, datetime, str], Prepared]
