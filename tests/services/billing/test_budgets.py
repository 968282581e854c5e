"""Budgets: admission, settling, refunds and refills on a real Redis server and on the database
(SQLite and PostgreSQL), concurrent sends that must not overspend, client addresses, tiers."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Sequence

import pytest
import redis.asyncio as redis
from sqlalchemy.engine import Engine

from chatapp import db
from chatapp.config import Settings
from chatapp.errors import BudgetExceededError
from chatapp.models.base import new_id
from chatapp.providers.catalog import get_model
from chatapp.services.billing import budgets, money
from chatapp.services.billing.budgets import Reservation
from chatapp.services.billing.store import (
    Admission,
    Bucket,
    BudgetStore,
    DatabaseBudgetStore,
    Level,
    RedisBudgetStore,
)
from chatapp.services.identity.tiers import Tier

REDIS_URL = os.environ.get("CHATAPP_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="CHATAPP_TEST_REDIS_URL is not set: run the suite with `make test`"
)
DAY = 86_400.0
T0 = 1_800_000_000.5  # an injected clock: every call below says what time it is
USD = 1_000_000  # micro-USD
SETTINGS = Settings(
    _env_file=None,  # type: ignore[call-arg]
    database_url="sqlite://",
    budget_window_hours=24,
    budget_anonymous_usd=0.05,
    budget_free_usd=1.0,
    budget_pro_usd=20.0,
    budget_anonymous_per_ip_usd=0.08,
)


async def admit(store: BudgetStore, amount: int, *, now: float = T0, user: str = "ada",
                tier: Tier = "free", ip: str | None = None) -> Reservation:
    return await budgets.admit(store, settings=SETTINGS, user_id=user, tier=tier, client_ip=ip,
                               estimate_microusd=amount, now=now)


async def meter(store: BudgetStore, *, now: float, user: str = "ada", tier: Tier = "free",
                ip: str | None = None) -> budgets.Meter:
    return await budgets.meter(store, settings=SETTINGS, user_id=user, tier=tier, client_ip=ip,
                               now=now)


async def admitted(store: BudgetStore, amount: int, **kwargs: object) -> bool:
    try:
        await admit(store, amount, **kwargs)  # type: ignore[arg-type]
    except BudgetExceededError:
        return False
    return True


async def spent(store: BudgetStore, key: str, limit: int = USD, now: float = T0) -> int:
    return (await store.level(Bucket(key, limit), window=DAY, now=now)).spent


class StoreContract:
    """What every store must do; TestDatabaseStore and TestRedisStore supply `store`."""

    async def test_fifty_simultaneous_sends_against_ten_admit_exactly_ten(
        self, store: BudgetStore
    ) -> None:
        results = await asyncio.gather(*(admitted(store, USD // 10) for _ in range(50)))
        assert results.count(True) == 10
        assert await spent(store, "user:ada") == USD

    async def test_fifty_anonymous_sends_from_one_address_share_its_allowance(
        self, store: BudgetStore
    ) -> None:
        # Each has a fresh user bucket (cleared cookies); the address's bucket is what binds.
        results = await asyncio.gather(*(
            admitted(store, 8_000, user=new_id(), tier="anonymous", ip="203.0.113.7")
            for _ in range(50)
        ))
        assert results.count(True) == 10
        assert await spent(store, "ip:203.0.113.7", 80_000) == 80_000

    async def test_the_allowance_refills_continuously(self, store: BudgetStore) -> None:
        await admit(store, USD)
        assert (await meter(store, now=T0)).label == "0% left · full in 24 h"
        assert not await admitted(store, 1)

        half = await meter(store, now=T0 + DAY / 2)
        assert (half.percent_left, half.full_in_seconds) == (50, 43_200)
        assert half.label == "50% left · full in 12 h"
        assert (await meter(store, now=T0 + DAY / 4)).label == "25% left · full in 18 h"
        assert (await meter(store, now=T0 + DAY)).label == "100% left"

        assert not await admitted(store, 600_000, now=T0 + DAY / 2)
        reservation = await admit(store, 400_000, now=T0 + DAY / 2)
        assert reservation.remaining == {"user:ada": 100_000}
        full = await meter(store, now=T0 + DAY / 2 + 0.9 * DAY)
        assert (full.percent_left, full.full_in_seconds, full.label) == (100, 0, "100% left")

    async def test_the_meter_label(self, store: BudgetStore) -> None:
        assert (await meter(store, now=T0)).label == "100% left"
        await admit(store, 380_000)
        assert (await meter(store, now=T0)).label == "62% left · full in 9 h"
        await admit(store, 10_000, user="bob")
        assert (await meter(store, now=T0, user="bob")).label == "99% left · full in 15 min"

    async def test_the_wait_is_when_enough_has_refilled(self, store: BudgetStore) -> None:
        await admit(store, USD)
        with pytest.raises(BudgetExceededError) as refused:
            await admit(store, 250_001)  # a quarter of a day, and a bit
        assert refused.value.wait_seconds == 21_601
        assert not refused.value.anonymous
        assert refused.value.user_message == (
            "You've used your allowance for now: enough refills in 6 h 1 min."
        )
        assert not await admitted(store, 250_001, now=T0 + 21_600)
        assert await admitted(store, 250_001, now=T0 + 21_601)

    async def test_a_request_bigger_than_the_whole_allowance_never_fits(
        self, store: BudgetStore
    ) -> None:
        with pytest.raises(BudgetExceededError) as refused:
            await admit(store, 60_000, tier="anonymous", ip="198.51.100.1")
        assert refused.value.wait_seconds is None
        assert "more than your whole allowance" in refused.value.user_message
        assert "Sign in for a bigger allowance." in refused.value.user_message
        assert await spent(store, "user:ada") == 0

    async def test_settling_charges_the_actual_cost(self, store: BudgetStore) -> None:
        reservation = await admit(store, 300_000)
        assert reservation.remaining == {"user:ada": 700_000}
        await budgets.settle(store, reservation, 120_000, now=T0)
        assert await spent(store, "user:ada") == 120_000
        assert await spent(store, "user:ada") == 120_000

        over = await admit(store, 200_000)
        await budgets.settle(store, over, 250_000, now=T0)  # the provider counted more
        assert await spent(store, "user:ada") == 370_000

    async def test_a_failed_request_is_refunded_entirely(self, store: BudgetStore) -> None:
        reservation = await admit(store, 500_000)
        await budgets.refund(store, reservation, now=T0)
        assert (await meter(store, now=T0)).label == "100% left"

        # Refunding after half the spend refilled does not leave a credit below zero.
        everything = await admit(store, USD)
        await budgets.refund(store, everything, now=T0 + DAY / 2)
        assert await admitted(store, USD, now=T0 + DAY / 2)
        assert not await admitted(store, 1, now=T0 + DAY / 2)

    async def test_anonymous_users_share_their_address_allowance(
        self, store: BudgetStore
    ) -> None:
        home, elsewhere = "203.0.113.7", "198.51.100.9"
        assert await admitted(store, 50_000, user="anon1", tier="anonymous", ip=home)
        assert not await admitted(store, 1, user="anon1", tier="anonymous", ip=home)

        with pytest.raises(BudgetExceededError) as refused:  # cookies cleared: a new user
            await admit(store, 40_000, user="anon2", tier="anonymous", ip=home)
        assert "Sign in for a bigger allowance." in refused.value.user_message
        assert refused.value.anonymous
        assert (await meter(store, now=T0, user="anon2", tier="anonymous")).percent_left == 100
        assert await admitted(store, 30_000, user="anon2", tier="anonymous", ip=home)
        assert (await meter(store, now=T0, user="anon2", tier="anonymous", ip=home)
                ).percent_left == 0

        assert await admitted(store, 50_000, user="anon3", tier="anonymous", ip=elsewhere)
        assert await admitted(store, 500_000, user="signed-in", ip=home)  # not per address

    async def test_an_ipv6_home_network_counts_as_one_address(self, store: BudgetStore) -> None:
        assert await admitted(store, 50_000, user="a", tier="anonymous", ip="2001:db8:1:2::10")
        assert await admitted(store, 30_000, user="b", tier="anonymous", ip="2001:db8:1:2::99")
        assert not await admitted(store, 1, user="c", tier="anonymous", ip="2001:db8:1:2:ff::1")
        assert await admitted(store, 1, user="d", tier="anonymous", ip="2001:db8:1:3::1")


class TestDatabaseStore(StoreContract):
    @pytest.fixture
    def store(self, engine: Engine) -> DatabaseBudgetStore:
        return DatabaseBudgetStore(engine)

    def test_fifty_threads_on_their_own_connections_admit_exactly_ten(
        self, store: DatabaseBudgetStore, engine: Engine
    ) -> None:
        # Two engines, as two app processes would have, and a barrier so all start together.
        other_engine = db.make_engine(engine.url.render_as_string(hide_password=False))
        other = DatabaseBudgetStore(other_engine)
        buckets = [Bucket("ip:203.0.113.7", USD), Bucket("user:ada", USD)]
        barrier, results = threading.Barrier(50), []

        def send(n: int) -> None:
            barrier.wait()
            target = store if n % 2 else other
            results.append(target.reserve_sync(buckets, USD // 10, window=DAY, now=T0).ok)

        threads = [threading.Thread(target=send, args=(n,)) for n in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        other_engine.dispose()
        assert results.count(True) == 10
        assert store.level_sync(buckets[0], window=DAY, now=T0).spent == USD
        assert store.level_sync(buckets[1], window=DAY, now=T0).spent == USD


@needs_redis
class TestRedisStore(StoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[RedisBudgetStore]:
        assert REDIS_URL
        prefix = f"test-budgets:{new_id()}:"
        store = RedisBudgetStore(REDIS_URL, prefix=prefix)
        yield store
        await store.aclose()
        client = redis.Redis.from_url(REDIS_URL)
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
        await client.aclose()

    async def test_five_workers_sending_fifty_admit_exactly_ten(self) -> None:
        assert REDIS_URL
        prefix = f"test-budgets:{new_id()}:"
        workers = [RedisBudgetStore(REDIS_URL, prefix=prefix) for _ in range(5)]
        results = await asyncio.gather(*(
            admitted(workers[n % 5], USD // 10) for n in range(50)
        ))
        assert results.count(True) == 10
        assert await spent(workers[0], "user:ada") == USD
        for worker in workers:
            await worker.aclose()

    async def test_a_bucket_expires_once_it_would_be_full_again(
        self, store: RedisBudgetStore
    ) -> None:
        assert REDIS_URL
        await admit(store, USD // 4)
        client = redis.Redis.from_url(REDIS_URL)
        ttl = await client.pttl(f"{store._prefix}user:ada")
        await client.aclose()
        assert DAY / 4 * 1000 < ttl <= (DAY / 4 + 60) * 1000


class ExplodingStore:
    """A store that must not be touched."""

    async def reserve(self, buckets: Sequence[Bucket], amount: int, *, window: float,
                      now: float) -> Admission:
        raise AssertionError("a free model touched the budget store")

    async def adjust(self, buckets: Sequence[Bucket], delta: int, *, window: float,
                     now: float) -> None:
        raise AssertionError("a free model touched the budget store")

    async def level(self, bucket: Bucket, *, window: float, now: float) -> Level:
        raise AssertionError("a free model touched the budget store")


async def test_free_models_are_admitted_without_touching_the_store() -> None:
    local = get_model("local/smollm2-135m")
    assert local is not None
    cost = money.estimate_cost(local, prompt_chars=100_000, max_output_tokens=100_000)
    assert cost == 0
    reservation = await admit(ExplodingStore(), cost, tier="anonymous", ip="203.0.113.7")
    await budgets.settle(ExplodingStore(), reservation, 0)
    await budgets.refund(ExplodingStore(), reservation)


def test_limits_per_tier() -> None:
    assert [budgets.limit_for(SETTINGS, t) for t in ("anonymous", "free", "pro")] == [
        50_000, 1_000_000, 20_000_000]
    assert budgets.window_seconds(SETTINGS) == DAY


async def test_the_store_is_redis_when_configured_else_the_database(engine: Engine) -> None:
    assert isinstance(budgets.get_budget_store(SETTINGS), DatabaseBudgetStore)
    with_redis = SETTINGS.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    store = budgets.get_budget_store(with_redis)
    assert isinstance(store, RedisBudgetStore)
    assert budgets.get_budget_store(with_redis) is store  # one client per process
