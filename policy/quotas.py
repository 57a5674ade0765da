"""Daily quotas and per-minute bursts for outgoing actions, per user and channel.

A day is the user's local calendar day, so "10 SMS a day" resets at the user's midnight, not 24 h
after the first send. Sending is two-phase so that a send that fails or is refused costs nothing:

    outcome = await store.reserve(user_id, "sms", limit=10, zone=user_zone, now=now)
    if isinstance(outcome, QuotaExceeded):
        ...  # RATE_LIMITED, retry at outcome.retry_at
    try:
        await send()
    except Exception:
        await store.release(outcome)
        raise
    await store.commit(outcome)

A reservation holds a slot until it is committed (the slot is used) or released (it is free again).
One that is neither, because the process died mid-send, frees itself after `reservation_ttl`.

The burst limit counts reservations made in the last minute, committed or still pending; a released
reservation leaves it too. Both limits are checked and taken in one atomic step, so a reservation
refused by one limit takes nothing from the other.

Stores:
- `MemoryQuotaStore`: one process (development, tests, the embedded default).
- `RedisQuotaStore`: shared by all processes. Per (user, channel, local day) a sorted set of
  reservation ids: a pending one scored with its expiry (ms), a committed one with +inf. Reserving
  drops scores <= now (expired reservations), then adds when the set's size is below the limit, in
  one Lua script. Per (user, channel) a second sorted set scored with reservation times is the
  burst window. The day key expires a grace period after the user's midnight, the burst key a
  minute after its last entry. An unreachable Redis raises QuotaBackendUnavailable: never
  unlimited.

Why not the `limits` package for bursts: it has no refund, and no transaction across two limits,
so a released reservation would keep its burst hit and a burst hit could be spent by a send the
daily limit then refuses. One script for both is atomic and adds no dependency.

All times come from the caller's `now` (the sorted-set scores included), so tests control the
clock; Redis' own clock only runs the key TTLs, which is why they are set relative (PEXPIRE).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import redis.asyncio
import redis.exceptions

Channel = Literal["email", "sms", "call", "external_email"]
CHANNELS: frozenset[str] = frozenset({"email", "sms", "call", "external_email"})

DEFAULT_BURST_PER_MINUTE = 5
DEFAULT_RESERVATION_TTL = timedelta(minutes=10)
BURST_WINDOW = timedelta(minutes=1)
# How long a day's counts outlive the user's midnight: room for reservations made just before it
# and still committed after it, and for clock skew between app hosts and Redis.
DAY_GRACE = timedelta(hours=1)


class QuotaBackendUnavailable(Exception):
    """The quota store could not be asked (Redis down, timeout). Callers fail closed:
    SERVICE_UNAVAILABLE, and nothing is sent."""


@dataclass(frozen=True)
class Reservation:
    """A slot held in the quota of `local_date` (the user's day when it was reserved)."""

    id: str
    user_id: str
    channel: Channel
    zone: str
    local_date: date
    expires_at: datetime


@dataclass(frozen=True)
class QuotaExceeded:
    """`reason` says which limit refused; `retry_at` (UTC) is the user's next midnight for the daily
    limit, and when the oldest reservation leaves the window for the burst limit."""

    reason: Literal["daily_limit", "burst_limit"]
    limit: int
    retry_at: datetime


@dataclass(frozen=True)
class QuotaUsage:
    local_date: date
    committed: int
    pending: int

    @property
    def used(self) -> int:
        return self.committed + self.pending


class QuotaStore(Protocol):
    async def reserve(
        self,
        user_id: str,
        channel: Channel,
        limit: int,
        zone: str,
        now: datetime,
        *,
        burst_limit: int = DEFAULT_BURST_PER_MINUTE,
    ) -> Reservation | QuotaExceeded:
        """Hold a slot when fewer than `limit` are used or held today and fewer than `burst_limit`
        were reserved in the last minute."""
        ...

    async def commit(self, reservation: Reservation) -> None:
        """Count the reservation as used. Idempotent; counts even after the reservation expired,
        because the send did happen."""
        ...

    async def release(self, reservation: Reservation) -> None:
        """Give the slot back (daily and burst). Idempotent; a committed reservation stays counted."""
        ...

    async def usage(self, user_id: str, channel: Channel, zone: str, now: datetime) -> QuotaUsage:
        """Today's (the user's local day) committed and live pending reservations."""
        ...


def local_date(zone: str, now: datetime) -> date:
    """The user's calendar date at `now`."""
    return _utc(now).astimezone(ZoneInfo(zone)).date()


def next_local_midnight(zone: str, day: date) -> datetime:
    """The instant (UTC) the day after `day` begins in `zone`.

    Where a DST change skips midnight itself, this is the instant of the jump, when that day begins.
    """
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _day_expiry(zone: str, day: date, reservation_ttl: timedelta) -> datetime:
    """When a day's counts may be forgotten: after the last reservation made that day has expired,
    plus DAY_GRACE."""
    return next_local_midnight(zone, day) + reservation_ttl + DAY_GRACE


def _utc(now: datetime) -> datetime:
    """`now` in UTC, where adding a timedelta is elapsed time (in a ZoneInfo zone it is wall time,
    which is an hour off across a DST change)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _check_request(channel: str, limit: int, burst_limit: int) -> None:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if limit < 0:
        raise ValueError("limit must be >= 0")
    if burst_limit < 1:
        raise ValueError("burst_limit must be >= 1")


def _new_reservation(user_id: str, channel: Channel, zone: str, now: datetime, ttl: timedelta) -> Reservation:
    return Reservation(
        id=uuid.uuid4().hex,
        user_id=user_id,
        channel=channel,
        zone=zone,
        local_date=local_date(zone, now),
        expires_at=_utc(now) + ttl,
    )


# --- In-process ------------------------------------------------------------------------------


@dataclass
class _Day:
    expires_at: datetime
    committed: set[str] = field(default_factory=set)
    pending: dict[str, datetime] = field(default_factory=dict)  # id -> expires_at

    def drop_expired(self, now: datetime) -> None:
        self.pending = {rid: expiry for rid, expiry in self.pending.items() if expiry > now}


class MemoryQuotaStore:
    """Quotas held in this process; same behaviour as RedisQuotaStore, for one process only."""

    def __init__(self, reservation_ttl: timedelta = DEFAULT_RESERVATION_TTL) -> None:
        self._reservation_ttl = reservation_ttl
        self._lock = asyncio.Lock()
        self._days: dict[tuple[str, str, date], _Day] = {}
        self._bursts: dict[tuple[str, str], dict[str, datetime]] = {}  # id -> reserved at

    async def reserve(
        self,
        user_id: str,
        channel: Channel,
        limit: int,
        zone: str,
        now: datetime,
        *,
        burst_limit: int = DEFAULT_BURST_PER_MINUTE,
    ) -> Reservation | QuotaExceeded:
        _check_request(channel, limit, burst_limit)
        now = _utc(now)
        reservation = _new_reservation(user_id, channel, zone, now, self._reservation_ttl)
        async with self._lock:
            self._forget_past_days(now)
            day = self._day(reservation)
            day.drop_expired(now)
            if len(day.committed) + len(day.pending) >= limit:
                return QuotaExceeded("daily_limit", limit, next_local_midnight(zone, reservation.local_date))
            burst = self._burst(user_id, channel, now)
            if len(burst) >= burst_limit:
                return QuotaExceeded("burst_limit", burst_limit, min(burst.values()) + BURST_WINDOW)
            day.pending[reservation.id] = reservation.expires_at
            burst[reservation.id] = now
        return reservation

    async def commit(self, reservation: Reservation) -> None:
        async with self._lock:
            day = self._day(reservation)
            day.pending.pop(reservation.id, None)
            day.committed.add(reservation.id)

    async def release(self, reservation: Reservation) -> None:
        async with self._lock:
            day = self._days.get(_day_key(reservation))
            if day is not None:
                day.pending.pop(reservation.id, None)
            self._bursts.get((reservation.user_id, reservation.channel), {}).pop(reservation.id, None)

    async def usage(self, user_id: str, channel: Channel, zone: str, now: datetime) -> QuotaUsage:
        now = _utc(now)
        today = local_date(zone, now)
        async with self._lock:
            day = self._days.get((user_id, channel, today))
            if day is None:
                return QuotaUsage(today, 0, 0)
            live = sum(1 for expiry in day.pending.values() if expiry > now)
            return QuotaUsage(today, len(day.committed), live)

    def _day(self, reservation: Reservation) -> _Day:
        key = _day_key(reservation)
        if key not in self._days:
            expires_at = _day_expiry(reservation.zone, reservation.local_date, self._reservation_ttl)
            self._days[key] = _Day(expires_at)
        return self._days[key]

    def _burst(self, user_id: str, channel: str, now: datetime) -> dict[str, datetime]:
        recent = {
            rid: at for rid, at in self._bursts.get((user_id, channel), {}).items() if at > now - BURST_WINDOW
        }
        self._bursts[(user_id, channel)] = recent
        return recent

    def _forget_past_days(self, now: datetime) -> None:
        """Bound memory: a day's counts are dropped when the Redis store's day key would expire."""
        self._days = {key: day for key, day in self._days.items() if day.expires_at > now}
        self._bursts = {key: burst for key, burst in self._bursts.items() if burst}


def _day_key(reservation: Reservation) -> tuple[str, str, date]:
    return (reservation.user_id, reservation.channel, reservation.local_date)


# --- Redis -----------------------------------------------------------------------------------

# KEYS: day, burst. ARGV: now_ms, id, limit, reservation_expiry_ms, day_ttl_ms, burst_limit, window_ms.
# Returns {1, 0} granted, {0, 0} daily limit, {2, retry_ms} burst limit.
_RESERVE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return {0, 0}
end
local window = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, tonumber(oldest[2]) + window}
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('PEXPIRE', KEYS[2], window)
return {1, 0}
"""

# KEYS: day. ARGV: id, ttl_ms used only if the day key had expired (a very late commit).
_COMMIT = """
redis.call('ZADD', KEYS[1], '+inf', ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
"""

# KEYS: day, burst. ARGV: id. A committed reservation (score +inf) stays.
_RELEASE = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= 'inf' then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[1])
"""


class RedisQuotaStore:
    """Quotas shared by every process through Redis.

    Keys are `{key_prefix}:quota:{user_id:channel}:{local date}` and `{key_prefix}:burst:{user_id:channel}`;
    the braces are a Redis Cluster hash tag, so one script's keys share a slot.

    Every call gives up after `timeout` seconds (QuotaBackendUnavailable), whatever the client's own
    timeouts and retries (redis-py's defaults can wait 20 s on a hung server, in the middle of a
    call). A reserve that times out may still have been applied; that slot frees itself after
    `reservation_ttl`.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        key_prefix: str,
        reservation_ttl: timedelta = DEFAULT_RESERVATION_TTL,
        timeout: float = 1.0,
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._reservation_ttl = reservation_ttl
        self._timeout = timeout
        self._reserve = client.register_script(_RESERVE)
        self._commit = client.register_script(_COMMIT)
        self._release = client.register_script(_RELEASE)

    async def reserve(
        self,
        user_id: str,
        channel: Channel,
        limit: int,
        zone: str,
        now: datetime,
        *,
        burst_limit: int = DEFAULT_BURST_PER_MINUTE,
    ) -> Reservation | QuotaExceeded:
        _check_request(channel, limit, burst_limit)
        reservation = _new_reservation(user_id, channel, zone, now, self._reservation_ttl)
        day_ttl = _day_expiry(zone, reservation.local_date, self._reservation_ttl) - now
        args: list[str | int] = [
            _ms(now),
            reservation.id,
            limit,
            _ms(reservation.expires_at),
            _duration_ms(day_ttl),
            burst_limit,
            _duration_ms(BURST_WINDOW),
        ]
        keys = [self._day_key(user_id, channel, reservation.local_date), self._burst_key(user_id, channel)]
        async with _unavailable_on_error(self._timeout):
            status, retry_ms = await self._reserve(keys=keys, args=args)
        if status == 0:
            return QuotaExceeded("daily_limit", limit, next_local_midnight(zone, reservation.local_date))
        if status == 2:
            return QuotaExceeded("burst_limit", burst_limit, datetime.fromtimestamp(retry_ms / 1000, UTC))
        return reservation

    async def commit(self, reservation: Reservation) -> None:
        key = self._day_key(reservation.user_id, reservation.channel, reservation.local_date)
        async with _unavailable_on_error(self._timeout):
            await self._commit(keys=[key], args=[reservation.id, _duration_ms(DAY_GRACE)])

    async def release(self, reservation: Reservation) -> None:
        keys = [
            self._day_key(reservation.user_id, reservation.channel, reservation.local_date),
            self._burst_key(reservation.user_id, reservation.channel),
        ]
        async with _unavailable_on_error(self._timeout):
            await self._release(keys=keys, args=[reservation.id])

    async def usage(self, user_id: str, channel: Channel, zone: str, now: datetime) -> QuotaUsage:
        today = local_date(zone, now)
        key = self._day_key(user_id, channel, today)
        async with _unavailable_on_error(self._timeout), self._client.pipeline(transaction=True) as pipe:
            pipe.zcount(key, "+inf", "+inf")
            pipe.zcount(key, f"({_ms(now)}", "(+inf")
            committed, pending = await pipe.execute()
        return QuotaUsage(today, committed, pending)

    def _day_key(self, user_id: str, channel: str, day: date) -> str:
        return f"{self._prefix}:quota:{{{user_id}:{channel}}}:{day.isoformat()}"

    def _burst_key(self, user_id: str, channel: str) -> str:
        return f"{self._prefix}:burst:{{{user_id}:{channel}}}"


@asynccontextmanager
async def _unavailable_on_error(timeout: float) -> AsyncIterator[None]:
    """Turns a Redis or socket error, or no answer within `timeout` seconds, into
    QuotaBackendUnavailable, keeping the cause."""
    try:
        async with asyncio.timeout(timeout):
            yield
    except (redis.exceptions.RedisError, OSError) as exc:  # TimeoutError is an OSError
        raise QuotaBackendUnavailable(f"quota store unavailable: {type(exc).__name__}") from exc


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def _duration_ms(duration: timedelta) -> int:
    return max(1, int(duration.total_seconds() * 1000))
