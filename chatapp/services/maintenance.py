"""Housekeeping that runs in every app process: end orphaned replies on a timer."""

from __future__ import annotations

import asyncio
import logging

from chatapp.config import Settings, get_settings
from chatapp.services import leases

log = logging.getLogger(__name__)


async def sweep_once(settings: Settings) -> list[str]:
    """End every orphaned reply (see leases.py); the ids ended."""
    return await leases.end_orphans(settings)


async def run_forever() -> None:
    """The app's lifespan task: a sweep every half lease, so a reply whose writer died is
    ended within about 1.5 leases even when nobody opens its thread. Safe with any number of
    workers: each ending is one conditional update, and only expired leases are ended."""
    while True:
        settings = get_settings()
        try:
            ended = await sweep_once(settings)
            if ended:
                log.info("ended %d orphaned replies", len(ended))
        except Exception:  # the database may be away; try again next time
            log.exception("the sweep of orphaned replies failed")
        await asyncio.sleep(settings.stream_lease_seconds / 2)
