"""Where allowances are kept: buckets of spent micro-USD in Redis or in the database.

A bucket drains continuously at limit/window per second. Every change is atomic over all the
buckets of a request (one Lua script in Redis, one locking transaction in the database), so
concurrent requests can never overspend.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from chatapp.models.billing import BudgetBucket

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str  # "user:<id>" or "ip:<address>"
    limit: int  # micro-USD per window


@dataclass(frozen=True, slots=True)
class Admission:
    ok: bool
    wait_seconds: int | None  # 0 when admitted; None when the amount exceeds a whole limit
    remaining: dict[str, int]  # per bucket key, after the reservation (unchanged if refused)


@dataclass(frozen=True, slots=True)
class Level:
    spent: int  # after draining
    full_in_seconds: float


class BudgetStore(Protocol):
    async def reserve(self, buckets: Sequence[Bucket], amount: int, *, window: float,
                      now: float) -> Admission: ...
    async def adjust(self, buckets: Sequence[Bucket], delta: int, *, window: float,
                     now: float) -> None: ...
    async def level(self, bucket: Bucket, *, window: float, now: float) -> Level: ...


# --- the arithmetic (mirrored line for line by the Lua script) ------------------------


def _drain(spent: int, stamp: float, limit: int, window: float, now: float) -> tuple[int, float]:
    """Spent and its stamp at `now`. Whole micro-USD drain; the stamp advances only by the
    time they took, so frequent updates lose no fraction. A clock behind the stamp drains none."""
    if now > stamp and limit > 0:
        drained = math.floor((now - stamp) * limit / window)
        if drained >= spent:
            return 0, now
        return spent - drained, stamp + drained * window / limit
    return spent, (now if spent == 0 else stamp)


def _wait_ms(spent: int, stamp: float, limit: int, window: float, now: float,
             amount: int) -> int:
    """Milliseconds until `amount` fits (-1: never); one past the exact instant, for float error."""
    if amount > limit:
        return -1
    need = spent + amount - limit
    if need <= 0:
        return 0
    return math.floor(max(0.0, need * window / limit - max(0.0, now - stamp)) * 1000) + 1


def _full_in(spent: int, stamp: float, limit: int, window: float, now: float) -> float:
    if spent == 0 or limit <= 0:
        return 0.0
    return max(0.0, spent * window / limit - max(0.0, now - stamp))


def _admission(ok: bool, wait_ms: int, remaining: dict[str, int]) -> Admission:
    wait = None if wait_ms < 0 else math.ceil(wait_ms / 1000)
    return Admission(ok, wait, remaining)


# --- Redis -------------------------------------------------------------------------

# KEYS: the buckets. ARGV: op (reserve | adjust | level), now, window, amount or delta,
# then one limit per key. Hashes hold s (spent) and t (stamp, epoch seconds).
_LUA = """
local op, now, window, amount = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local spent, stamp, limits = {}, {}, {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[4 + i])
  local h = redis.call('HMGET', key, 's', 't')
  local s, t = tonumber(h[1] or '0'), tonumber(h[2] or ARGV[2])
  if now > t and limit > 0 then
    local drained = math.floor((now - t) * limit / window)
    if drained >= s then s, t = 0, now else s, t = s - drained, t + drained * window / limit end
  elseif s == 0 then t = now end
  spent[i], stamp[i], limits[i] = s, t, limit
end
if op == 'level' then
  local full = 0
  if spent[1] > 0 and limits[1] > 0 then
    full = math.max(0, spent[1] * window / limits[1] - math.max(0, now - stamp[1]))
  end
  return {spent[1], math.ceil(full * 1000)}
end
local wait = 0
if op == 'reserve' then
  for i = 1, #KEYS do
    local need = spent[i] + amount - limits[i]
    if amount > limits[i] then wait = -1
    elseif need > 0 and wait >= 0 then
      local w = math.max(0, need * window / limits[i] - math.max(0, now - stamp[i]))
      wait = math.max(wait, math.floor(w * 1000) + 1)
    end
  end
end
local out = {wait == 0 and 1 or 0, wait}
for i, key in ipairs(KEYS) do
  if wait == 0 then
    spent[i] = math.max(0, spent[i] + amount)
    local s, t = string.format('%d', spent[i]), string.format('%.6f', stamp[i])
    redis.call('HSET', key, 's', s, 't', t)
    local ttl = window
    if limits[i] > 0 then ttl = spent[i] * window / limits[i] end
    redis.call('PEXPIRE', key, math.ceil(ttl * 1000) + 60000)
  end
  out[#out + 1] = limits[i] - spent[i]
end
return out
"""


class RedisBudgetStore:
    """Buckets in Redis, each change one atomic script run, so any number of workers agree."""

    # One hash tag: a request's buckets share a cluster slot, as a multi-key script needs.
    def __init__(self, url: str, *, prefix: str = "{chatapp:budget}:") -> None:
        import redis.asyncio as redis  # imported lazily: only needed when configured

        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_LUA)
        self._prefix = prefix

    async def _run(self, op: str, buckets: Sequence[Bucket], amount: int, window: float,
                   now: float) -> list[int]:
        keys = [self._prefix + b.key for b in buckets]
        args = [op, f"{now:.6f}", repr(float(window)), amount, *(b.limit for b in buckets)]
        return [int(x) for x in await self._script(keys=keys, args=args)]

    async def reserve(self, buckets: Sequence[Bucket], amount: int, *, window: float,
                      now: float) -> Admission:
        ok, wait, *left = await self._run("reserve", buckets, amount, window, now)
        return _admission(bool(ok), wait, {b.key: r for b, r in zip(buckets, left, strict=True)})

    async def adjust(self, buckets: Sequence[Bucket], delta: int, *, window: float,
                     now: float) -> None:
        await self._run("adjust", buckets, delta, window, now)

    async def level(self, bucket: Bucket, *, window: float, now: float) -> Level:
        spent, full_ms = await self._run("level", [bucket], 0, window, now)
        return Level(spent, full_ms / 1000)

    async def aclose(self) -> None:
        await self._redis.aclose()


# --- the database ------------------------------------------------------------------

_TABLE = BudgetBucket.__table__  # type: ignore[attr-defined]
_State = dict[str, tuple[int, float]]  # key -> (spent, stamp), drained to now


class DatabaseBudgetStore:
    """Buckets in budget_buckets, each change one transaction holding the rows' locks."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                with conn.begin():
                    yield conn
                return
            # pysqlite begins a deferred transaction lazily, and two deferred readers cannot both
            # upgrade to writers. Take the write lock first instead: waiters queue on the busy
            # timeout. Autobegin off (isolation_level None) for this connection only, restored.
            raw = conn.connection.driver_connection
            saved = raw.isolation_level  # type: ignore[union-attr]
            raw.isolation_level = None  # type: ignore[union-attr]
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
            finally:
                raw.isolation_level = saved  # type: ignore[union-attr]

    def _apply(self, buckets: Sequence[Bucket], window: float, now: float,
               decide: Callable[[_State], tuple[int | None, _T]]) -> _T:
        """Lock the buckets' rows, drain them, and write `delta` to all if decide() gives one."""
        keys = sorted({b.key for b in buckets})  # one lock order for everyone: no deadlocks
        limits = {b.key: b.limit for b in buckets}
        stamp_now = datetime.fromtimestamp(now, UTC)
        with self._transaction() as conn:
            insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)
            conn.execute(
                insert(_TABLE)
                .values([{"key": k, "spent_microusd": 0, "updated_at": stamp_now} for k in keys])
                .on_conflict_do_nothing(index_elements=["key"])
            )
            query = sa.select(_TABLE.c.key, _TABLE.c.spent_microusd, _TABLE.c.updated_at).where(
                _TABLE.c.key.in_(keys)).order_by(_TABLE.c.key)
            if conn.dialect.name != "sqlite":
                query = query.with_for_update()
            state = {
                row.key: _drain(row.spent_microusd, row.updated_at.timestamp(), limits[row.key],
                                window, now)
                for row in conn.execute(query)
            }
            delta, result = decide(state)
            for key in keys if delta is not None else ():
                spent, stamp = state[key]
                conn.execute(_TABLE.update().where(_TABLE.c.key == key).values(
                    spent_microusd=max(0, spent + delta),
                    updated_at=datetime.fromtimestamp(stamp, UTC)))
            return result

    def reserve_sync(self, buckets: Sequence[Bucket], amount: int, *, window: float,
                     now: float) -> Admission:
        def decide(state: _State) -> tuple[int | None, Admission]:
            waits = [_wait_ms(*state[b.key], b.limit, window, now, amount) for b in buckets]
            wait = -1 if -1 in waits else max(waits)
            left = {b.key: b.limit - state[b.key][0] - (amount if wait == 0 else 0)
                    for b in buckets}
            return (amount if wait == 0 else None), _admission(wait == 0, wait, left)

        return self._apply(buckets, window, now, decide)

    def adjust_sync(self, buckets: Sequence[Bucket], delta: int, *, window: float,
                    now: float) -> None:
        self._apply(buckets, window, now, lambda state: (delta, None))

    def level_sync(self, bucket: Bucket, *, window: float, now: float) -> Level:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_TABLE.c.spent_microusd, _TABLE.c.updated_at)
                               .where(_TABLE.c.key == bucket.key)).first()
        if row is None:
            return Level(0, 0.0)
        spent, stamp = _drain(row[0], row[1].timestamp(), bucket.limit, window, now)
        return Level(spent, _full_in(spent, stamp, bucket.limit, window, now))

    async def reserve(self, buckets: Sequence[Bucket], amount: int, *, window: float,
                      now: float) -> Admission:
        return await asyncio.to_thread(self.reserve_sync, buckets, amount, window=window,
                                       now=now)

    async def adjust(self, buckets: Sequence[Bucket], delta: int, *, window: float,
                     now: float) -> None:
        await asyncio.to_thread(self.adjust_sync, buckets, delta, window=window, now=now)

    async def level(self, bucket: Bucket, *, window: float, now: float) -> Level:
        return await asyncio.to_thread(self.level_sync, bucket, window=window, now=now)
