"""What an executor is given: one database session and the facts of the action it carries out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User
from policy.effective import EffectiveSettings
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

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.zone)
