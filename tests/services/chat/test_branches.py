"""The message tree on SQLite and PostgreSQL: edits and regenerations as branches, the
navigator's positions, switching, pages before/after/around a message, and forks."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from chatapp.config import Settings
from chatapp.errors import NotFoundError, ValidationError
from chatapp.models import Message, MessageStatus, Thread
from chatapp.services.chat import branches, threads, turns
from tests.services.helpers import FREE, LOCAL, chain, send, settle


def _edit(session: Session, settings: Settings, user_id: str, message_id: str,
          text: str) -> turns.Turn:
    turn = turns.start_turn(session, settings=settings, user_id=user_id, thread_id=None,
                            content=text, model_id=LOCAL, admission=FREE, edit_of=message_id)
    session.commit()
    return turn


def _retry(session: Session, settings: Settings, user_id: str, reply_id: str) -> turns.Turn:
    turn = turns.retry_turn(session, settings=settings, user_id=user_id, message_id=reply_id,
                            admission=FREE)
    session.commit()
    return turn


def _shown(session: Session, user_id: str, thread_id: str) -> list[str]:
    page = branches.visible_page(session, user_id=user_id, thread_id=thread_id)
    return [m.content for m in page.messages]


def _conversation(session: Session, settings: Settings, user_id: str) -> tuple[turns.Turn, ...]:
    first = send(session, settings, user_id, "first question")
    settle(session, first.assistant_message_id, "first answer")
    second = send(session, settings, user_id, "second question", thread_id=first.thread_id)
    settle(session, second.assistant_message_id, "second answer")
    return first, second


def test_an_edit_is_a_new_branch_and_nothing_is_deleted(
    session: Session, settings: Settings, user_id: str
) -> None:
    first, second = _conversation(session, settings, user_id)
    edit = _edit(session, settings, user_id, first.user_message_id or "", "  first, edited ")
    settle(session, edit.assistant_message_id, "answer to the edit")

    assert edit.thread_id == first.thread_id and not edit.new_thread
    assert _shown(session, user_id, first.thread_id) == ["first, edited", "answer to the edit"]
    assert len(session.exec(select(Message).where(Message.thread_id == first.thread_id)).all()) == 6
    page = branches.visible_page(session, user_id=user_id, thread_id=first.thread_id)
    edited = page.messages[0]
    assert page.siblings[edited.id] == branches.Siblings(2, 2, first.user_message_id or "", "")
    assert edit.assistant_message_id not in page.siblings  # the only reply to the edit

    # Back to the first version: the whole old branch comes back, down to its newest message.
    branches.switch_branch(session, user_id=user_id, message_id=first.user_message_id or "")
    session.commit()
    assert _shown(session, user_id, first.thread_id) == [
        "first question", "first answer", "second question", "second answer"]
    page = branches.visible_page(session, user_id=user_id, thread_id=first.thread_id)
    assert page.siblings[page.messages[0].id] == branches.Siblings(1, 2, "", edited.id)
    # The composer continues the branch on screen.
    third = send(session, settings, user_id, "third", thread_id=first.thread_id)
    parent = session.get(Message, third.user_message_id)
    assert parent is not None and parent.parent_id == second.assistant_message_id


def test_regenerations_are_siblings_and_the_choice_is_stored(
    session: Session, settings: Settings, user_id: str
) -> None:
    first, _ = _conversation(session, settings, user_id)
    again = _retry(session, settings, user_id, first.assistant_message_id)
    settle(session, again.assistant_message_id, "another first answer")
    third = _retry(session, settings, user_id, again.assistant_message_id)
    settle(session, third.assistant_message_id, "a third first answer")

    page = branches.visible_page(session, user_id=user_id, thread_id=first.thread_id)
    assert [m.content for m in page.messages] == ["first question", "a third first answer"]
    assert page.siblings[third.assistant_message_id] == branches.Siblings(
        3, 3, again.assistant_message_id, "")

    branches.switch_branch(session, user_id=user_id, message_id=again.assistant_message_id)
    session.commit()
    stored = session.get(Thread, first.thread_id, populate_existing=True)
    assert stored is not None and stored.leaf_message_id == again.assistant_message_id
    assert _shown(session, user_id, first.thread_id) == ["first question", "another first answer"]


def test_switching_is_refused_while_a_reply_is_written_and_for_other_users(
    session: Session, settings: Settings, user_id: str, other_user_id: str
) -> None:
    first, second = _conversation(session, settings, user_id)
    with pytest.raises(NotFoundError):
        branches.switch_branch(session, user_id=other_user_id,
                               message_id=first.user_message_id or "")
    with pytest.raises(NotFoundError):
        branches.fork(session, user_id=other_user_id, message_id=first.assistant_message_id)
    with pytest.raises(NotFoundError):
        _edit(session, settings, other_user_id, first.user_message_id or "", "mine now")
    session.rollback()
    send(session, settings, user_id, "still writing", thread_id=first.thread_id)
    with pytest.raises(ValidationError):
        branches.switch_branch(session, user_id=user_id, message_id=first.user_message_id or "")


def test_pages_before_after_and_around_a_message(session: Session, user_id: str,
                                                 other_user_id: str) -> None:
    thread, ids = chain(session, user_id, 250)
    newest = branches.visible_page(session, user_id=user_id, thread_id=thread.id, limit=60)
    assert [m.id for m in newest.messages] == ids[-60:] and newest.has_more
    earlier = branches.page_before(session, user_id=user_id, thread_id=thread.id,
                                   before_id=ids[-60], limit=60)
    assert [m.id for m in earlier.messages] == ids[-120:-60] and earlier.has_more
    first = branches.page_before(session, user_id=user_id, thread_id=thread.id,
                                 before_id=ids[50], limit=60)
    assert [m.id for m in first.messages] == ids[:50] and not first.has_more
    assert branches.page_before(session, user_id=user_id, thread_id=thread.id,
                                before_id=ids[0]).messages == []

    around = branches.page_around(session, user_id=user_id, message_id=ids[10], limit=60)
    assert [m.id for m in around.messages] == ids[:60]
    assert (around.has_more, around.has_newer) == (False, True)
    middle = branches.page_around(session, user_id=user_id, message_id=ids[100], limit=60)
    assert [m.id for m in middle.messages] == ids[71:131]  # it is the 30th of 60
    assert (middle.has_more, middle.has_newer) == (True, True)
    after = branches.page_after(session, user_id=user_id, thread_id=thread.id,
                                after_id=ids[130], limit=60)
    assert [m.id for m in after.messages] == ids[131:191] and after.has_newer
    last = branches.page_after(session, user_id=user_id, thread_id=thread.id,
                               after_id=ids[190], limit=60)
    assert [m.id for m in last.messages] == ids[191:] and not last.has_newer

    for call in (
        lambda: branches.page_before(session, user_id=other_user_id, thread_id=thread.id,
                                     before_id=ids[100]),
        lambda: branches.page_around(session, user_id=other_user_id, message_id=ids[100]),
        lambda: branches.page_after(session, user_id=other_user_id, thread_id=thread.id,
                                    after_id=ids[100]),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_a_page_around_a_message_on_another_branch_switches_to_it(
    session: Session, settings: Settings, user_id: str
) -> None:
    first, _ = _conversation(session, settings, user_id)
    edit = _edit(session, settings, user_id, first.user_message_id or "", "edited")
    settle(session, edit.assistant_message_id, "edited answer")

    page = branches.page_around(session, user_id=user_id, message_id=first.assistant_message_id)
    session.commit()
    assert [m.content for m in page.messages] == [
        "first question", "first answer", "second question", "second answer"]
    assert _shown(session, user_id, first.thread_id)[0] == "first question"


def test_a_fork_copies_the_path_and_leaves_the_original_alone(
    session: Session, settings: Settings, user_id: str
) -> None:
    first, second = _conversation(session, settings, user_id)
    settle(session, first.assistant_message_id, "first answer", MessageStatus.COMPLETE)
    before = _shown(session, user_id, first.thread_id)

    copy = branches.fork(session, user_id=user_id, message_id=first.assistant_message_id)
    session.commit()

    original = threads.get_thread(session, user_id=user_id, thread_id=first.thread_id)
    assert copy.id != original.id and copy.title == original.title
    assert (copy.forked_from_thread_id, copy.forked_from_message_id) == (
        original.id, first.assistant_message_id)
    assert _shown(session, user_id, copy.id) == ["first question", "first answer"]
    assert _shown(session, user_id, first.thread_id) == before
    copied = branches.visible_page(session, user_id=user_id, thread_id=copy.id).messages
    assert not {m.id for m in copied} & {first.user_message_id, first.assistant_message_id}
    # The fork is a thread like any other: it continues from its own copy.
    more = send(session, settings, user_id, "and then?", thread_id=copy.id)
    assert session.get(Message, more.user_message_id).parent_id == copied[-1].id  # type: ignore[union-attr]

    streaming = send(session, settings, user_id, "writing", thread_id=first.thread_id)
    with pytest.raises(ValidationError):
        branches.fork(session, user_id=user_id, message_id=streaming.assistant_message_id)
