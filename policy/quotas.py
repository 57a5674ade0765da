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

The zone is the one in force at each reserve, and the user may change it at any time. So the store does
not count per local date (a zone where it is already tomorrow, or still yesterday, would be a fresh
count); it keeps one counted day per user and channel, with the instant it ends: the latest local
midnight of the zones it granted under. A reserve carries the count on while the counted day has not
ended when the local day at `now` (in the zone given) began, and starts a new count only with a local
day that begins after it ended. So a zone change never resets the count sooner than keeping the zone
would have, and each count lasts a whole local day: hopping to a zone where the day is about to end
gains nothing. The price: after a change to a zone far west, the count may last until that zone's
next midnight after the counted day ended (at most about two days).

The burst limit counts reservations made in the last minute, committed or still pending; a released
reservation leaves it too. Both limits are checked and taken in one atomic step, so a reservation
refused by one limit takes nothing from the other.

Stores:
- `MemoryQuotaStore`: one process (development, tests, the embedded default).
- `RedisQuotaStore`: shared by all processes. Per (user, channel) a hash holds the counted day (when
  its count began, `since`, and when it ends, `ends`) and a sorted set its reservation ids: a pending
  one scored with its expiry (ms), a committed one with +inf. Reserving drops scores <= now (expired
  reservations), starts a new count when the counted day is over, then adds when the set's size is
  below the limit, in one Lua script. A third sorted set scored with reservation times is the burst
  window. The day's keys expire `DAY_MEMORY` after the day ends, the burst key a minute after its
  last entry. An unreachable Redis raises QuotaBackendUnavailable: never unlimited.

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
# How long a counted day is remembered after it ends. A local day of another zone that began before the
# end shares its count, and it can run until up to 25 h after it (a local day is 23-25 h long); the rest
# is room for commits of reservations made just before the end, and for clock skew between hosts.
DAY_MEMORY = timedelta(days=2)


class QuotaBackendUnavailable(Exception):
    """The quota store could not be asked (Redis down, timeout). Callers fail closed:
    SERVICE_UNAVAILABLE, and nothing is sent."""


@dataclass(frozen=True)
class Reservation:
    """A slot held in the count that began at `counted_since` (the user's counted day when it was reserved)."""

    id: str
    user_id: str
    channel: Channel
    counted_since: datetime
    expires_at: datetime


@dataclass(frozen=True)
class QuotaExceeded:
    """`reason` says which limit refused; `retry_at` (UTC) is, for the daily limit, the first midnight
    of the user's zone after the counted day ends (the user's next midnight unless the zone changed
    that day), and for the burst limit when the oldest reservation leaves the window."""

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
        """Hold a slot when fewer than `limit` are used or held in the user's counted day (the local day
        in `zone`, carried on across a zone change) and fewer than `burst_limit` were reserved in the
        last minute."""
        ...

    async def commit(self, reservation: Reservation) -> None:
        """Count the reservation as used. Idempotent; counts even after the reservation expired,
        because the send did happen, but only in the count it was reserved in, never in a later day's."""
        ...

    async def release(self, reservation: Reservation) -> None:
        """Give the slot back (daily and burst). Idempotent; a committed reservation stays counted."""
        ...

    async def usage(self, user_id: str, channel: Channel, zone: str, now: datetime) -> QuotaUsage:
        """The committed and live pending reservations that count against the user's day at `now`."""
        ...


def local_date(zone: str, now: datetime) -> date:
    """The user's calendar date at `now`."""
    return _utc(now).astimezone(ZoneInfo(zone)).date()


def next_local_midnight(zone: str, day: date) -> datetime:
    """The instant (UTC) the day after `day` begins in `zone`.

    Where a DST change skips midnight itself, this is the instant of the jump, when that day begins.
    """
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _day_bounds(zone: str, now: datetime) -> tuple[datetime, datetime]:
    """When the user's local day at `now` began and when it ends (UTC)."""
    today = local_date(zone, now)
    return next_local_midnight(zone, today - timedelta(days=1)), next_local_midnight(zone, today)


def _first_midnight_from(zone: str, instant: datetime) -> datetime:
    """The first local midnight of `zone` at or after `instant`: where a count that lasts until `instant`
    gives way to a new one, for a user in `zone`."""
    return next_local_midnight(zone, local_date(zone, instant - timedelta(microseconds=1)))


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


# --- In-process ------------------------------------------------------------------------------


@dataclass
class _Day:
    """One user's counted day on one channel: its reservations, and when it ends (the latest local midnight
    of the zones it granted under)."""

    since: datetime
    ends_at: datetime
    committed: set[str] = field(default_factory=set)
    pending: dict[str, datetime] = field(default_factory=dict)  # id -> expires_at

    def carries_on(self, today_began: datetime) -> bool:
        """Whether a local day that began at `today_began` shares a moment with this one, so its count
        holds; a local day that began after this one ended starts a new count."""
        return self.ends_at > today_began

    def drop_expired(self, now: datetime) -> None:
        self.pending = {rid: expiry for rid, expiry in self.pending.items() if expiry > now}


class MemoryQuotaStore:
    """Quotas held in this process; same behaviour as RedisQuotaStore, for one process only."""

    def __init__(self, reservation_ttl: timedelta = DEFAULT_RESERVATION_TTL) -> None:
        self._reservation_ttl = reservation_ttl
        self._lock = asyncio.Lock()
        self._days: dict[tuple[str, str], _Day] = {}
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
        today_began, today_ends = _day_bounds(zone, now)
        reservation_id = uuid.uuid4().hex
        async with self._lock:
            self._forget_past_days(now)
            day = self._days.get((user_id, channel))
            if day is None or not day.carries_on(today_began):
                day = _Day(since=now, ends_at=today_ends)  # a new count, kept only when it grants
            day.drop_expired(now)
            if len(day.committed) + len(day.pending) >= limit:
                return QuotaExceeded("daily_limit", limit, _first_midnight_from(zone, day.ends_at))
            burst = self._burst(user_id, channel, now)
            if len(burst) >= burst_limit:
                return QuotaExceeded("burst_limit", burst_limit, min(burst.values()) + BURST_WINDOW)
            reservation = Reservation(reservation_id, user_id, channel, day.since, now + self._reservation_ttl)
            day.ends_at = max(day.ends_at, today_ends)
            day.pending[reservation.id] = reservation.expires_at
            self._days[(user_id, channel)] = day
            burst[reservation.id] = now
        return reservation

    async def commit(self, reservation: Reservation) -> None:
        async with self._lock:
            day = self._days.get((reservation.user_id, reservation.channel))
            if day is not None and day.since == reservation.counted_since:
                day.pending.pop(reservation.id, None)
                day.committed.add(reservation.id)

    async def release(self, reservation: Reservation) -> None:
        async with self._lock:
            day = self._days.get((reservation.user_id, reservation.channel))
            if day is not None:
                day.pending.pop(reservation.id, None)
            self._bursts.get((reservation.user_id, reservation.channel), {}).pop(reservation.id, None)

    async def usage(self, user_id: str, channel: Channel, zone: str, now: datetime) -> QuotaUsage:
        now = _utc(now)
        today_began, _ = _day_bounds(zone, now)
        async with self._lock:
            day = self._days.get((user_id, channel))
            if day is None or not day.carries_on(today_began):
                return QuotaUsage(local_date(zone, now), 0, 0)
            live = sum(1 for expiry in day.pending.values() if expiry > now)
            return QuotaUsage(local_date(zone, now), len(day.committed), live)

    def _burst(self, user_id: str, channel: str, now: datetime) -> dict[str, datetime]:
        recent = {
            rid: at for rid, at in self._bursts.get((user_id, channel), {}).items() if at > now - BURST_WINDOW
        }
        self._bursts[(user_id, channel)] = recent
        return recent

    def _forget_past_days(self, now: datetime) -> None:
        """Bound memory: a day's counts are dropped when the Redis store's day keys would expire."""
        self._days = {key: day for key, day in self._days.items() if day.ends_at + DAY_MEMORY > now}
        self._bursts = {key: burst for key, burst in self._bursts.items() if burst}


# --- Redis -----------------------------------------------------------------------------------

# KEYS: day (hash: since, ends), reserved (sorted set), burst.
# ARGV: now_ms, id, limit, reservation_expiry_ms, today_began_ms, today_ends_ms, memory_ms, burst_limit,
# window_ms. Returns {1, since_ms} granted, {0, ends_ms} daily limit, {2, retry_ms} burst limit.
_RESERVE = """
local now = tonumber(ARGV[1])
local since, ends = unpack(redis.call('HMGET', KEYS[1], 'since', 'ends'))
-- the count holds while the local day at now began before the counted day ended (_Day.carries_on)
local carries_on = ends and tonumber(ends) > tonumber(ARGV[5])
local used = 0
if carries_on then
  since, ends = tonumber(since), tonumber(ends)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  used = redis.call('ZCARD', KEYS[2])
else
  since, ends = now, tonumber(ARGV[6])
end
if used >= tonumber(ARGV[3]) then
  return {0, ends}
end
local window = tonumber(ARGV[9])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[8]) then
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  return {2, tonumber(oldest[2]) + window}
end
if not carries_on then
  redis.call('DEL', KEYS[2])  -- the reservations of a day that is over, replaced only when granting
end
ends = math.max(ends, tonumber(ARGV[6]))  -- a zone change can only make the counted day longer
local keep = ends - now + tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'since', since, 'ends', ends)
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
redis.call('PEXPIRE', KEYS[2], keep)
redis.call('ZADD', KEYS[3], now, ARGV[2])
redis.call('PEXPIRE', KEYS[3], window)
return {1, since}
"""

# KEYS: day, reserved. ARGV: id, since_ms. Counts only in the count it was reserved in, not in a later one.
_COMMIT = """
if tonumber(redis.call('HGET', KEYS[1], 'since')) == tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[2], '+inf', ARGV[1])
  redis.call('PEXPIRE', KEYS[2], redis.call('PTTL', KEYS[1]))
end
"""

# KEYS: reserved, burst. ARGV: id. A committed reservation (score +inf) stays.
_RELEASE = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= 'inf' then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[1])
"""


class RedisQuotaStore:
    """Quotas shared by every process through Redis.

    Keys are `{key_prefix}:quota-day:{user_id:channel}`, `{key_prefix}:quota:{user_id:channel}` and
    `{key_prefix}:burst:{user_id:channel}`; the braces are a Redis Cluster hash tag, so one script's keys
    share a slot.

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
        now = _utc(now)
        today_began, today_ends = _day_bounds(zone, now)
        reservation_id, expires_at = uuid.uuid4().hex, now + self._reservation_ttl
        args: list[str | int] = [
            _ms(now),
            reservation_id,
            limit,
            _ms(expires_at),
            _ms(today_began),
            _ms(today_ends),
            _duration_ms(DAY_MEMORY),
            burst_limit,
            _duration_ms(BURST_WINDOW),
        ]
        async with _unavailable_on_error(self._timeout):
            status, instant_ms = await self._reserve(keys=self._keys(user_id, channel), args=args)
        if status == 0:
            return QuotaExceeded("daily_limit", limit, _first_midnight_from(zone, _instant(instant_ms)))
        if status == 2:
            return QuotaExceeded("burst_limit", burst_limit, _instant(instant_ms))
        return Reservation(reservation_id, user_id, channel, _instant(instant_ms), expires_at)

    async def commit(self, reservation: Reservation) -> None:
        day, reserved, _ = self._keys(reservation.user_id, reservation.channel)
        async with _unavailable_on_error(self._timeout):
            await self._commit(keys=[day, reserved], args=[reservation.id, _ms(reservation.counted_since)])

    async def release(self, reservation: Reservation) -> None:
        _, reserved, burst = self._keys(reservation.user_id, reservation.channel)
        async with _unavailable_on_error(self._timeout):
            await self._release(keys=[reserved, burst], args=[reservation.id])

    async def usage(self, user_id: str, channel: Channel, zone: str, now: datetime) -> QuotaUsage:
        today_began, _ = _day_bounds(zone, now)
        day, reserved, _ = self._keys(user_id, channel)
        async with _unavailable_on_error(self._timeout), self._client.pipeline(transaction=True) as pipe:
            pipe.hget(day, "ends")
            pipe.zcount(reserved, "+inf", "+inf")
            pipe.zcount(reserved, f"({_ms(now)}", "(+inf")
            ends, committed, pending = await pipe.execute()
        if ends is None or int(ends) <= _ms(today_began):
            return QuotaUsage(local_date(zone, now), 0, 0)
        return QuotaUsage(local_date(zone, now), committed, pending)

    def _keys(self, user_id: str, channel: str) -> list[str]:
        """The counted day, its reservations, the burst window."""
        tag = f"{{{user_id}:{channel}}}"
        return [f"{self._prefix}:quota-day:{tag}", f"{self._prefix}:quota:{tag}", f"{self._prefix}:burst:{tag}"]


@asynccontextmanager
async def _unavailable_on_error(timeout: float) -> AsyncIterator[None]:
    """Turns a Redis or socket error, or no answer within `timeout` seconds, into
    QuotaBackendUnavailable, keeping the cause."""
    try:
        async with asyncio.timeout(timeout):
            yield
    except (redis.exceptions.RedisError, OSError) as exc:  # TimeoutError is an OSError
        raise QuotaBackendUnavailable(f"quota store unavailable: {type(exc).__name__}") from exc


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _ms(instant: datetime) -> int:
    """Milliseconds since the epoch, in integers (a float timestamp can come back 1 ms off)."""
    return (instant - _EPOCH) // _MS


def _instant(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def _duration_ms(duration: timedelta) -> int:
    return max(1, int(duration.total_seconds() * 1000))
