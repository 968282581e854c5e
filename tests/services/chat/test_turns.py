"""Chat turns on SQLite and PostgreSQL: sending, refusals, retries as branches, and the prompt."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from chatapp.config import Settings
from chatapp.errors import ModelUnavailableError, NotFoundError, ValidationError
from chatapp.models import Message, MessageRole, MessageStatus, Thread
from chatapp.services.chat import branches, turns
from tests.services.helpers import FREE, LOCAL, fresh, send, settle, table_counts


def test_first_message_creates_thread_user_message_and_pending_reply(
    session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "  How do I boil an egg?  ")

    assert turn.new_thread
    thread = session.get(Thread, turn.thread_id)
    assert thread is not None
    assert thread.user_id == user_id
    assert thread.title == "How do I boil an egg?"
    assert not thread.title_generated
    assert thread.model_id == LOCAL
    user_msg = session.get(Message, turn.user_message_id)
    reply = session.get(Message, turn.assistant_message_id)
    assert user_msg is not None and reply is not None
    assert (user_msg.role, user_msg.content, user_msg.parent_id) == (
        MessageRole.USER, "How do I boil an egg?", None
    )
    assert (reply.role, reply.status, reply.content) == (
        MessageRole.ASSISTANT, MessageStatus.PENDING, ""
    )
    assert reply.parent_id == user_msg.id
    assert (reply.provider, reply.model) == ("local", LOCAL)
    assert thread.leaf_message_id == reply.id
    assert [m.id for m in branches.visible_page(
        session, user_id=user_id, thread_id=thread.id
    ).messages] == [user_msg.id, reply.id]


def test_turns_chain_through_parent_links_and_move_the_leaf(
    session: Session, settings: Settings, user_id: str
) -> None:
    first = send(session, settings, user_id, "one")
    settle(session, first.assistant_message_id, "reply one")
    second = send(session, settings, user_id, "two", thread_id=first.thread_id)

    assert not second.new_thread
    assert second.thread_id == first.thread_id
    user2 = session.get(Message, second.user_message_id)
    assert user2 is not None and user2.parent_id == first.assistant_message_id
    thread = session.get(Thread, first.thread_id)
    assert thread is not None and thread.leaf_message_id == second.assistant_message_id
    assert branches.branch_ids(session, leaf_id=second.assistant_message_id) == [
        first.user_message_id, first.assistant_message_id,
        second.user_message_id, second.assistant_message_id,
    ]


@pytest.mark.parametrize("content", ["", "   ", "\n\t \n"])
def test_empty_message_is_refused_and_nothing_is_written(
    engine: Engine, session: Session, settings: Settings, user_id: str, content: str
) -> None:
    before = table_counts(engine)
    with pytest.raises(ValidationError) as info:
        turns.start_turn(session, settings=settings, admission=FREE, user_id=user_id,
                         thread_id=None, content=content, model_id=LOCAL)
    assert info.value.user_message == "Type a message first."
    session.commit()
    assert table_counts(engine) == before


def test_over_long_message_is_refused_but_the_limit_itself_is_accepted(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    before = table_counts(engine)
    with pytest.raises(ValidationError) as info:
        turns.start_turn(session, settings=settings, admission=FREE, user_id=user_id,
                         thread_id=None, content="x" * (turns.MAX_MESSAGE_CHARS + 1),
                         model_id=LOCAL)
    assert "100,000 characters" in info.value.user_message
    session.commit()
    assert table_counts(engine) == before

    turn = send(session, settings, user_id, "x" * turns.MAX_MESSAGE_CHARS)
    stored = fresh(engine, Message, turn.user_message_id or "")
    assert stored is not None and len(stored.content) == turns.MAX_MESSAGE_CHARS


def test_unknown_model_and_unconfigured_provider_are_refused(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    no_keys = settings.model_copy(update={"openai_api_key": None})
    before = table_counts(engine)
    with pytest.raises(ValidationError) as unknown:
        turns.start_turn(session, settings=settings, admission=FREE, user_id=user_id,
                         thread_id=None, content="hi", model_id="nope/nothing")
    assert unknown.value.user_message == "Pick a model first."
    with pytest.raises(ModelUnavailableError) as unconfigured:
        turns.start_turn(session, settings=no_keys, admission=FREE, user_id=user_id, thread_id=None,
                        content="hi", model_id="openai/gpt-4.1-mini")
    assert unconfigured.value.user_message == (
        "GPT-4.1 mini is not available here (Add an OpenAI key)."
    )
    local_off = settings.model_copy(update={"local_model_enabled": False})
    with pytest.raises(ModelUnavailableError):
        turns.start_turn(session, settings=local_off, admission=FREE, user_id=user_id,
                        thread_id=None, content="hi", model_id=LOCAL)
    session.commit()
    assert table_counts(engine) == before


def test_someone_elses_thread_is_not_found_and_untouched(
    engine: Engine, session: Session, settings: Settings, user_id: str, other_user_id: str
) -> None:
    theirs = send(session, settings, other_user_id, "private")
    settle(session, theirs.assistant_message_id)
    before = table_counts(engine)

    with pytest.raises(NotFoundError):
        turns.start_turn(session, settings=settings, admission=FREE, user_id=user_id,
                        thread_id=theirs.thread_id, content="let me in", model_id=LOCAL)
    session.commit()
    assert table_counts(engine) == before
    thread = fresh(engine, Thread, theirs.thread_id)
    assert thread is not None and thread.leaf_message_id == theirs.assistant_message_id


@pytest.mark.parametrize("status", [MessageStatus.PENDING, MessageStatus.STREAMING])
def test_sending_while_a_reply_is_being_written_is_refused(
    engine: Engine, session: Session, settings: Settings, user_id: str, status: MessageStatus
) -> None:
    turn = send(session, settings, user_id, "first")
    settle(session, turn.assistant_message_id, "partial", status=status)
    before = table_counts(engine)

    with pytest.raises(ValidationError) as info:
        turns.start_turn(session, settings=settings, admission=FREE, user_id=user_id,
                        thread_id=turn.thread_id, content="second", model_id=LOCAL)
    assert "Wait for the current reply" in info.value.user_message
    session.commit()
    assert table_counts(engine) == before


def test_retry_adds_a_sibling_reply_and_keeps_the_failed_one(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "question")
    failed = session.get(Message, turn.assistant_message_id)
    assert failed is not None
    failed.status, failed.error = MessageStatus.ERROR, "The provider is rate limiting requests."
    session.add(failed)
    session.commit()

    retry = turns.retry_turn(session, settings=settings, admission=FREE, user_id=user_id,
                            message_id=failed.id)
    session.commit()

    assert retry.thread_id == turn.thread_id and retry.user_message_id is None
    new = fresh(engine, Message, retry.assistant_message_id)
    old = fresh(engine, Message, failed.id)
    assert new is not None and old is not None
    assert new.parent_id == old.parent_id == turn.user_message_id
    assert new.status == MessageStatus.PENDING
    assert (old.status, old.error) == (MessageStatus.ERROR, failed.error)
    page = branches.visible_page(session, user_id=user_id, thread_id=turn.thread_id)
    assert [m.id for m in page.messages] == [turn.user_message_id, new.id]


def test_retry_can_switch_model_and_refuses_what_it_cannot_retry(
    session: Session, settings: Settings, user_id: str, other_user_id: str
) -> None:
    keyed = settings.model_copy(update={"openai_api_key": settings.secret_key})
    turn = send(session, settings, user_id, "question")
    with pytest.raises(ValidationError):  # still pending
        turns.retry_turn(session, settings=settings, admission=FREE, user_id=user_id,
                        message_id=turn.assistant_message_id)
    settle(session, turn.assistant_message_id, "meh")
    with pytest.raises(NotFoundError):  # a user message is not a reply
        turns.retry_turn(session, settings=settings, admission=FREE, user_id=user_id,
                        message_id=turn.user_message_id or "")
    with pytest.raises(NotFoundError):
        turns.retry_turn(session, settings=settings, admission=FREE, user_id=other_user_id,
                        message_id=turn.assistant_message_id)

    retry = turns.retry_turn(session, settings=keyed, admission=FREE, user_id=user_id,
                            message_id=turn.assistant_message_id, model_id="openai/gpt-4.1-mini")
    session.commit()
    reply = session.get(Message, retry.assistant_message_id)
    thread = session.get(Thread, turn.thread_id)
    assert reply is not None and thread is not None
    assert (reply.provider, reply.model, thread.model_id) == (
        "openai", "openai/gpt-4.1-mini", "openai/gpt-4.1-mini"
    )


def test_prompt_follows_the_branch_in_order_and_skips_empty_failed_replies(
    session: Session, settings: Settings, user_id: str
) -> None:
    first = send(session, settings, user_id, "What is 2+2?")
    settle(session, first.assistant_message_id, "", status=MessageStatus.ERROR)
    retry = turns.retry_turn(session, settings=settings, admission=FREE, user_id=user_id,
                            message_id=first.assistant_message_id)
    session.commit()
    settle(session, retry.assistant_message_id, "4")
    second = send(session, settings, user_id, "And times 3?", thread_id=first.thread_id)
    # A reply that failed before any text is skipped, not sent as an empty message.
    settle(session, second.assistant_message_id, "", status=MessageStatus.ERROR)
    third = send(session, settings, user_id, "Hello?", thread_id=first.thread_id)

    prompt = turns.build_prompt(session, message_id=third.assistant_message_id,
                               context_window=8192, max_output_tokens=512)
    assert [(m.role, m.content) for m in prompt] == [
        ("user", "What is 2+2?"), ("assistant", "4"),
        ("user", "And times 3?"), ("user", "Hello?"),
    ]


def test_prompt_drops_the_oldest_turns_to_fit_a_small_context_window(
    session: Session, settings: Settings, user_id: str
) -> None:
    turn = None
    for i in range(6):
        turn = send(session, settings, user_id, f"question {i} " + "q" * 200,
                    thread_id=turn.thread_id if turn else None)
        settle(session, turn.assistant_message_id, f"answer {i} " + "a" * 200)
    last = send(session, settings, user_id, "newest question", thread_id=turn.thread_id)

    # About 256 tokens of room: a few hundred characters, far less than the 12 turns.
    prompt = turns.build_prompt(session, message_id=last.assistant_message_id,
                               context_window=300, max_output_tokens=44)
    assert prompt[-1].content == "newest question"
    assert prompt[0].role == "user"
    assert 1 < len(prompt) < 13
    assert not any(m.content.startswith("question 0") for m in prompt)
    # What is kept is the newest contiguous stretch of the conversation, in order.
    contents = [m.content.split(" ")[0] + m.content.split(" ")[1] for m in prompt[:-1]]
    expected = [f"{kind}{i}" for i in range(6) for kind in ("question", "answer")]
    assert contents == expected[-len(contents):]


def test_prompt_keeps_the_newest_message_even_when_it_alone_is_too_long(
    session: Session, settings: Settings, user_id: str
) -> None:
    first = send(session, settings, user_id, "short")
    settle(session, first.assistant_message_id, "fine")
    huge = "word " * 5000
    last = send(session, settings, user_id, huge, thread_id=first.thread_id)

    prompt = turns.build_prompt(session, message_id=last.assistant_message_id,
                               context_window=300, max_output_tokens=44)
    assert [(m.role, m.content) for m in prompt] == [("user", huge.strip())]


def test_two_racing_sends_on_one_thread_start_only_one_reply(
    engine: Engine, session: Session, settings: Settings, user_id: str
) -> None:
    """Both pass the 'is a reply pending?' check; the database still admits only one."""
    first = send(session, settings, user_id, "hello")
    settle(session, first.assistant_message_id)
    session.commit()
    outcome: dict[str, object] = {}

    with Session(engine) as a:
        turns.start_turn(a, settings=settings, admission=FREE, user_id=user_id,
                        thread_id=first.thread_id, content="from tab A",
                        model_id=LOCAL)  # flushed, not yet committed

        def tab_b() -> None:
            with Session(engine) as b:
                try:
                    turns.start_turn(b, settings=settings, admission=FREE, user_id=user_id,
                                    thread_id=first.thread_id, content="from tab B",
                                    model_id=LOCAL)
                    b.commit()
                    outcome["b"] = "sent"
                except ValidationError as exc:
                    outcome["b"] = exc.user_message

        racer = threading.Thread(target=tab_b)
        racer.start()
        racer.join(0.5)  # B is now waiting on A's uncommitted reply
        a.commit()
        racer.join(30)

    assert outcome["b"] == "Wait for the current reply to finish, or stop it."
    session.expire_all()
    texts = [m.content for m in session.exec(select(Message).where(Message.role == "user"))]
    assert "from tab A" in texts and "from tab B" not in texts


def test_a_model_above_the_users_tier_is_refused_with_the_reason(
    session: Session, settings: Settings, user_id: str
) -> None:
    keyed = settings.model_copy(update={"openai_api_key": settings.secret_key})
    with pytest.raises(ModelUnavailableError) as refused:
        send(session, keyed, user_id, "hi", model_id="openai/gpt-4.1")  # signed-in only
    assert refused.value.user_message == "GPT-4.1 is not available here (Sign in to use)."
    assert table_counts(session.get_bind()) == table_counts(session.get_bind()) | {
        "messages": 0, "threads": 0}
