"""Housekeeping that runs in every app process: warm up what the first reply needs, end
orphaned replies, purge deleted threads once their undo window has passed, prune idle
visitors."""

from __future__ import annotations

import asyncio
import logging

from chatapp import db
from chatapp.config import Settings, get_settings
from chatapp.providers import registry
from chatapp.services.catalog import serving
from chatapp.services.chat import leases, threads
from chatapp.services.identity import visitors

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600.0


async def sweep_once(settings: Settings) -> list[str]:
    """End every orphaned reply (see leases.py), and purge the threads deleted longer ago
    than their undo window; the ids of the replies ended."""
    ended = await leases.end_orphans(settings)
    await db.run(threads.purge_deleted)
    return ended


def warm_up() -> None:
    """Import, before anyone sends, what the first reply would otherwise import on the way:
    the SDKs of the providers this server serves (about a second)."""
    registry.warm_up(serving.protocols_served(get_settings()))


async def warm_up_in_background() -> None:
    """The lifespan task for warm_up: in a thread, so the server answers meanwhile."""
    try:
        await asyncio.to_thread(warm_up)
    except Exception:  # the first reply then imports what it needs itself
        log.exception("warming up failed")


async def run_forever() -> None:
    """The app's lifespan task: a sweep every half lease, so a reply whose writer died is
    ended within about 1.5 leases even when nobody opens its thread; idle anonymous users
    pruned hourly. Safe with any number of workers: each ending is one conditional update,
    only expired leases are ended, and pruning deletes what nobody else is using."""
    last_prune = float("-inf")
    loop = asyncio.get_running_loop()
    while True:
        settings = get_settings()
        try:
            ended = await sweep_once(settings)
            if ended:
                log.info("ended %d orphaned replies", len(ended))
        except Exception:  # the database may be away; try again next time
            log.exception("the sweep of orphaned replies failed")
        if loop.time() - last_prune >= PRUNE_EVERY_SECONDS:
            last_prune = loop.time()
            try:
                await visitors.prune(settings)
            except Exception:
                log.exception("pruning idle anonymous users failed")
        await asyncio.sleep(settings.stream_lease_seconds / 2)
