"""Feature flags: on for everyone, for listed users or teams, or for a stable percentage of users."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from db.models import FeatureFlag


@dataclass(frozen=True)
class FlagRule:
    """One flag's targeting. Every rule can only turn the flag on; there is no deny list, so a flag
    is off for a user only when no rule matches. To switch a flag off everywhere, clear all rules."""

    name: str
    enabled: bool = False
    team_ids: frozenset[str] = frozenset()
    user_ids: frozenset[str] = frozenset()
    rollout_percentage: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.rollout_percentage <= 100:
            raise ValueError(f"rollout_percentage must be 0-100, got {self.rollout_percentage}")


def rollout_bucket(flag_name: str, user_id: str) -> int:
    """The user's bucket 0-99 for this flag: the first 8 bytes of sha256(f"{flag_name}:{user_id}") mod 100.

    Stable across processes and releases (unlike hash()), and independent between flags, so the
    same users are not always the first to get every experiment.
    """
    digest = hashlib.sha256(f"{flag_name}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def flag_enabled(flag: FlagRule, user_id: str, team_ids: Iterable[str]) -> bool:
    """Whether the flag is on for this user; the first rule that matches wins:

    1. `enabled` (on globally) -> on;
    2. the user is in `user_ids` -> on;
    3. any of the user's teams is in `team_ids` -> on;
    4. otherwise on when rollout_bucket(flag.name, user_id) < rollout_percentage, so 0 is nobody,
       100 is everybody, and raising the percentage only ever adds users.
    """
    return (
        flag.enabled
        or user_id in flag.user_ids
        or not flag.team_ids.isdisjoint(team_ids)
        or rollout_bucket(flag.name, user_id) < flag.rollout_percentage
    )


def rule_of(flag: FeatureFlag) -> FlagRule:
    """A stored flag's targeting."""
    return FlagRule(flag.name, flag.enabled, frozenset(flag.team_ids), frozenset(flag.user_ids), flag.rollout_percentage)
