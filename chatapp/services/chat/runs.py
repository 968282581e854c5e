"""Replies started in this process, as soon as they are stored.

A send stores the user's message and the pending reply, then starts the reply here at once:
the provider request goes out while the page still redirects, refreshes its sidebar and meter.
The tab's background event (chatapp/state/live.py) only waits for the outcome to swap in the
stored reply. A reply goes on when its tab closes; a tab that never asks for the outcome
leaves it here for a minute after it ends.
"""

from __future__ import annotations

import asyncio
import logging

from chatapp.config import Settings
from chatapp.services.chat import generation
from chatapp.services.chat.generation import ReplySnapshot

log = logging.getLogger(__name__)

KEEP_FINISHED_SECONDS = 60.0
_runs: dict[str, asyncio.Task[ReplySnapshot]] = {}


def start(message_id: str, *, settings: Settings) -> None:
    """Generate `message_id` in the background of this process (once: a second start of a
    reply already running here does nothing)."""
    if message_id in _runs:
        return
    loop = asyncio.get_running_loop()
    task = loop.create_task(generation.generate_reply(message_id, settings=settings),
                            name=f"reply {message_id}")
    _runs[message_id] = task

    def forget(done: asyncio.Task[ReplySnapshot]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.error("reply %s crashed", message_id, exc_info=done.exception())
        loop.call_later(KEEP_FINISHED_SECONDS, _drop, message_id, done)

    task.add_done_callback(forget)


def _drop(message_id: str, task: asyncio.Task[ReplySnapshot]) -> None:
    if _runs.get(message_id) is task:
        del _runs[message_id]


async def outcome(message_id: str, *, settings: Settings) -> ReplySnapshot:
    """How `message_id` ended: the run started here, or (none here: started before a restart
    of this worker's state, say) a run started now. Cancelling the wait leaves the run going."""
    if message_id not in _runs:
        start(message_id, settings=settings)
    task = _runs[message_id]
    result = await asyncio.shield(task)
    _drop(message_id, task)
    return result


def running_here(message_id: str) -> bool:
    """Whether this process is generating `message_id` right now."""
    task = _runs.get(message_id)
    return task is not None and not task.done()
