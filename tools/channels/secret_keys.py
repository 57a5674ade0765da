"""COACH_SECRET_KEY during a rotation: several secrets, newest first, separated by commas ("new,old").

The first secret signs stream tokens and seals OAuth tokens; every listed secret still verifies and opens
what it signed or sealed, so rotating the secret neither drops calls in progress nor makes users reconnect
Google. Sealed values move to the first secret whenever they are written again (every token refresh);
drop the old secret once that has happened (see README, "Rotating COACH_SECRET_KEY").
"""

from __future__ import annotations


def secret_keys(configured: str) -> tuple[str, ...]:
    """The secrets in COACH_SECRET_KEY, the signing one first; ValueError when there is none."""
    keys = tuple(part.strip() for part in configured.split(",") if part.strip())
    if not keys:
        raise ValueError("COACH_SECRET_KEY holds no secret")
    return keys
