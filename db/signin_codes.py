"""Repository for one-time sign-in codes (`signin_codes`).

A code has `CODE_DIGITS` digits, lives `CODE_LIFETIME`, works once, and is spent after `MAX_ATTEMPTS` wrong
guesses; at most `MAX_CODES_PER_WINDOW` codes are sent to a person per `CODE_WINDOW`. So an attacker who
knows someone's phone number gets at most 25 guesses at a million codes per quarter hour. The code is
stored as an HMAC under the server's secret: six digits are too few to survive a plain hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import SigninCode

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
CODE_WINDOW = timedelta(minutes=15)
MAX_CODES_PER_WINDOW = 5


class TooManyCodes(Exception):
    """The person was sent `MAX_CODES_PER_WINDOW` codes within `CODE_WINDOW`."""


def _digest(secret_key: str, code_id: str, code: str) -> str:
    return hmac.new(secret_key.encode(), f"{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


async def issue(session: AsyncSession, *, user_id: str, channel: str, secret_key: str, now: datetime) -> tuple[SigninCode, str]:
    """A new code for the user (TooManyCodes when too many were sent lately); earlier codes stop working."""
    recent = select(func.count()).select_from(SigninCode).where(
        SigninCode.user_id == user_id, SigninCode.created_at > now - CODE_WINDOW
    )
    if (await session.scalar(recent) or 0) >= MAX_CODES_PER_WINDOW:
        raise TooManyCodes(f"at most {MAX_CODES_PER_WINDOW} codes per {CODE_WINDOW.seconds // 60} minutes")
    for earlier in await _live_codes(session, user_id, now):
        earlier.used_at = now
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = SigninCode(user_id=user_id, channel=channel, code_hash="", created_at=now, expires_at=now + CODE_LIFETIME)
    session.add(row)
    await session.flush()  # the id is part of the digest
    row.code_hash = _digest(secret_key, row.id, code)
    return row, code


async def redeem(session: AsyncSession, *, user_id: str, code: str, secret_key: str, now: datetime) -> SigninCode | None:
    """The user's live code if `code` is it (spent now); otherwise None, and the wrong guess is counted."""
    live = await _live_codes(session, user_id, now)
    if not live:
        return None
    row = live[0]
    if hmac.compare_digest(row.code_hash, _digest(secret_key, row.id, code)):
        row.used_at = now
        return row
    row.attempts += 1
    if row.attempts >= MAX_ATTEMPTS:
        row.used_at = now
    return None


async def _live_codes(session: AsyncSession, user_id: str, now: datetime) -> list[SigninCode]:
    rows = await session.execute(
        select(SigninCode)
        .where(SigninCode.user_id == user_id, SigninCode.used_at.is_(None), SigninCode.expires_at > now)
        .order_by(SigninCode.created_at.desc())
        .with_for_update()
    )
    return list(rows.scalars())
