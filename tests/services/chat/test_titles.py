"""Generated thread titles on SQLite and PostgreSQL, with a scripted provider."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from chatapp.config import Settings
from chatapp.errors import ProviderUnavailableError
from chatapp.models import MessageStatus, Thread
from chatapp.services.chat import threads, titles
from chatapp.services.chat.generation import ReplySnapshot
from tests.fakes.scripted_provider import ScriptedProvider, resolver
from tests.services.helpers import fresh, send, settle

QUESTION = "I want to visit Lisbon for three days in May, what should I see?"


def _first_exchange(session: Session, settings: Settings, user_id: str) -> str:
    turn = send(session, settings, user_id, QUESTION)
    settle(session, turn.assistant_message_id, "Start in Alfama, then Belém.")
    return turn.thread_id


def _title(engine: Engine, thread_id: str) -> tuple[str, bool]:
    thread = fresh(engine, Thread, thread_id)
    assert thread is not None
    return thread.title, thread.title_generated


async def test_a_generated_title_is_cleaned_and_stored(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    thread_id = _first_exchange(session, settings, user_id)
    provider = ScriptedProvider.text('"Three Days in ', '**Lisbon**."', "\nAnything else?")

    title = await titles.generate_title(thread_id, settings=settings, resolve=resolver(provider))

    assert title == "Three Days in Lisbon"
    assert _title(engine, thread_id) == ("Three Days in Lisbon", True)
    assert provider.closed
    [request] = provider.requests
    prompt = request.messages[-1].content
    assert QUESTION in prompt and "Start in Alfama" in prompt
    assert [t.title for t in threads.list_threads(session, user_id=user_id)] == [
        "Three Days in Lisbon"
    ]


async def test_blank_lines_before_the_title_are_skipped(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    thread_id = _first_exchange(session, settings, user_id)
    provider = ScriptedProvider.text("\n", "  \n", "Lisbon in May", "\n\nThat is my title.")

    title = await titles.generate_title(thread_id, settings=settings, resolve=resolver(provider))

    assert title == "Lisbon in May"
    assert _title(engine, thread_id) == ("Lisbon in May", True)


@pytest.mark.parametrize(
    "provider",
    [
        ScriptedProvider.text("Lis", error=ProviderUnavailableError("503")),
        ScriptedProvider.text(),
        ScriptedProvider.text('"."'),
    ],
    ids=["provider-error", "no-text", "only-punctuation"],
)
async def test_a_failed_or_empty_title_keeps_the_provisional_one(
    engine: Engine, session: Session, settings: Settings, user_id: str,
    provider: ScriptedProvider,
) -> None:
    thread_id = _first_exchange(session, settings, user_id)
    provisional = _title(engine, thread_id)

    title = await titles.generate_title(thread_id, settings=settings, resolve=resolver(provider))

    assert title is None
    assert provisional == (threads.clean_title(QUESTION), False)
    assert _title(engine, thread_id) == provisional


async def test_a_thread_already_titled_is_left_alone(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    thread_id = _first_exchange(session, settings, user_id)
    threads.rename_thread(session, user_id=user_id, thread_id=thread_id, title="My Lisbon trip")
    session.commit()
    provider = ScriptedProvider.text("Something Else")

    title = await titles.generate_title(thread_id, settings=settings, resolve=resolver(provider))

    assert title is None
    assert provider.requests == []
    assert _title(engine, thread_id) == ("My Lisbon trip", True)


async def test_a_title_follows_only_the_completed_reply_to_a_threads_first_message(
    engine: Engine, session: Session, settings: Settings, user_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    async def fake_title(thread_id: str, *, settings: Settings) -> str:
        asked.append(thread_id)
        return "A title"

    monkeypatch.setattr(titles, "generate_title", fake_title)
    first = send(session, settings, user_id, QUESTION)
    settle(session, first.assistant_message_id, "Start in Alfama.")
    second = send(session, settings, user_id, "And day two?", thread_id=first.thread_id)
    settle(session, second.assistant_message_id, "Belém.")
    failed = send(session, settings, user_id, "Another chat")
    settle(session, failed.assistant_message_id, "", status=MessageStatus.ERROR)

    def done(turn, status=MessageStatus.COMPLETE):  # type: ignore[no-untyped-def]
        return ReplySnapshot(turn.assistant_message_id, turn.thread_id, status=status)

    assert await titles.after_reply(done(first), settings=settings) == "A title"
    assert await titles.after_reply(done(second), settings=settings) is None  # not the first
    assert await titles.after_reply(done(failed, MessageStatus.ERROR), settings=settings) is None
    off = settings.model_copy(update={"title_generation": False})
    assert await titles.after_reply(done(first), settings=off) is None
    assert asked == [first.thread_id]
