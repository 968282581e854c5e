"""Following a reply written elsewhere, through Reflex's real event processor: the follower ends
when the reply ends, when its writer turns out to be dead, and when the tab goes away."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlmodel import Session

from chatapp.models import Message, MessageStatus
from chatapp.models.base import utcnow
from chatapp.services.chat import leases
from chatapp.state import live as live_module
from chatapp.state.live import LiveState
from tests.isolation.conftest import World
from tests.isolation.harness import Tab
from tests.isolation.screen import chat_screen

pytestmark = pytest.mark.timeout(60)


def _update(w: World, message_id: str, **values: object) -> None:
    with Session(w.engine) as s:
        msg = s.get(Message, message_id)
        assert msg is not None
        for key, value in values.items():
            setattr(msg, key, value)
        s.add(msg)
        s.commit()


async def _following(w: World) -> Tab:
    """Bob's tab on his thread whose reply another worker is writing."""
    tab = w.tab(w.bob)
    await tab.open(f"/chat/{w.bob.streaming_thread_id}", settle=False)
    live = await tab.state(LiveState)
    assert live.active and live.message_id == w.bob.streaming_reply_id
    return tab


async def _until(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _last_status(tab: Tab) -> str:
    return (await chat_screen(tab)).messages[-1].status


async def test_the_follower_shows_the_reply_as_stored_once_it_ends(world: World) -> None:
    tab = await _following(world)

    _update(world, world.bob.streaming_reply_id, status=MessageStatus.COMPLETE,
            content="The whole answer.", lease_owner=None, lease_expires_at=None)

    async def landed() -> bool:  # the list shows the stored reply, the live block is gone
        return (await _last_status(tab) == "complete"
                and not (await tab.state(LiveState)).active)

    await _until(landed)
    assert (await chat_screen(tab)).messages[-1].content == "The whole answer."
    assert not (await tab.state(LiveState)).active


async def test_the_follower_ends_a_reply_whose_writer_died_as_interrupted(world: World) -> None:
    tab = await _following(world)

    # The other worker was killed: its lease is not renewed and runs out.
    _update(world, world.bob.streaming_reply_id, lease_expires_at=utcnow() - timedelta(seconds=1))

    async def ended() -> bool:
        return (await _last_status(tab) == "interrupted"
                and not (await tab.state(LiveState)).active)

    await _until(ended)
    view = (await chat_screen(tab)).messages[-1]
    assert view.content == world.bob.texts[4]  # the last checkpoint's text is kept
    assert view.error == leases.INTERRUPTED_NOTE and view.can_retry
    assert not (await tab.state(LiveState)).active
    assert not (await chat_screen(tab)).busy  # the composer takes a new message


async def test_the_follower_stops_when_the_tab_goes_away(world: World) -> None:
    tab = await _following(world)
    follower = next(task for task in asyncio.all_tasks()
                    if "follow_reply" in task.get_name())

    await tab.close()
    started = time.monotonic()
    await asyncio.wait_for(follower, 10)

    took = time.monotonic() - started
    assert took < (live_module.FOLLOW_AWAY_POLLS + 2) * live_module.FOLLOW_POLL_SECONDS
    reply = Session(world.engine).get(Message, world.bob.streaming_reply_id)
    assert reply is not None and reply.status == MessageStatus.STREAMING  # left to its writer
