"""Threads on SQLite and PostgreSQL: the sidebar list, the visible branch, isolation, titles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from chatapp.config import Settings
from chatapp.errors import NotFoundError
from chatapp.models import Message, MessageRole, MessageStatus, Thread
from chatapp.services.chat import branches, threads
from chatapp.services.identity import tokens
from tests.services.helpers import LOCAL, chain, count, fresh, send, settle


def test_list_threads_is_newest_first_and_only_the_users_own(
    session: Session, settings: Settings, user_id: str, other_user_id: str
) -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    mine = []
    hours = {"oldest": 0, "middle": 1, "newest": 2}
    for title in ["oldest", "newest", "middle"]:
        turn = send(session, settings, user_id, title)
        settle(session, turn.assistant_message_id)
        thread = session.get(Thread, turn.thread_id)
        assert thread is not None
        thread.updated_at = base + timedelta(hours=hours[title])
        session.add(thread)
        mine.append(thread.id)
    session.commit()
    send(session, settings, other_user_id, "not yours")

    listed = threads.list_threads(session, user_id=user_id)
    assert [t.title for t in listed] == ["newest", "middle", "oldest"]
    assert {t.id for t in listed} == set(mine)
    assert [t.title for t in threads.list_threads(session, user_id=other_user_id)] == [
        "not yours"
    ]
    assert threads.list_threads(session, user_id="nobody") == []


@pytest.mark.parametrize(
    ("status", "generating"),
    [
        (MessageStatus.PENDING, True),
        (MessageStatus.STREAMING, True),
        (MessageStatus.COMPLETE, False),
        (MessageStatus.ERROR, False),
        (MessageStatus.CANCELLED, False),
    ],
)
def test_generating_flag_follows_the_reply_status(
    session: Session, settings: Settings, user_id: str, status: MessageStatus, generating: bool
) -> None:
    turn = send(session, settings, user_id, "hello")
    idle = send(session, settings, user_id, "idle thread")
    settle(session, idle.assistant_message_id)
    settle(session, turn.assistant_message_id, "partial", status=status)

    flags = {t.id: t.generating for t in threads.list_threads(session, user_id=user_id)}
    assert flags == {turn.thread_id: generating, idle.thread_id: False}


def test_visible_page_shows_the_leaf_branch_not_sibling_branches(
    session: Session, settings: Settings, user_id: str
) -> None:
    turn = send(session, settings, user_id, "tell me a joke")
    settle(session, turn.assistant_message_id, "first joke")
    sibling = Message(thread_id=turn.thread_id, parent_id=turn.user_message_id,
                      role=MessageRole.ASSISTANT, content="second joke")
    session.add(sibling)
    session.commit()

    page = branches.visible_page(session, user_id=user_id, thread_id=turn.thread_id)
    assert [m.content for m in page.messages] == ["tell me a joke", "first joke"]
    assert not page.has_more

    thread = session.get(Thread, turn.thread_id)
    assert thread is not None
    thread.leaf_message_id = sibling.id
    session.add(thread)
    session.commit()
    page = branches.visible_page(session, user_id=user_id, thread_id=turn.thread_id)
    assert [m.content for m in page.messages] == ["tell me a joke", "second joke"]


def test_visible_page_of_a_300_message_thread_pages_from_the_newest(
    session: Session, user_id: str
) -> None:
    thread, ids = chain(session, user_id, 300)
    # A stale branch off an early message must not show up.
    session.add(Message(thread_id=thread.id, parent_id=ids[10], role=MessageRole.USER,
                        content="abandoned edit"))
    session.commit()

    page = branches.visible_page(session, user_id=user_id, thread_id=thread.id, limit=60)
    assert [m.id for m in page.messages] == ids[-60:]
    assert page.has_more
    assert page.messages[-1].content == "m299"

    exact = branches.visible_page(session, user_id=user_id, thread_id=thread.id, limit=300)
    assert [m.id for m in exact.messages] == ids
    assert not exact.has_more
    more = branches.visible_page(session, user_id=user_id, thread_id=thread.id, limit=299)
    assert [m.id for m in more.messages] == ids[1:]
    assert more.has_more


def test_visible_page_of_an_empty_thread(session: Session, user_id: str) -> None:
    thread = Thread(user_id=user_id, model_id=LOCAL)
    session.add(thread)
    session.commit()
    page = branches.visible_page(session, user_id=user_id, thread_id=thread.id)
    assert (page.messages, page.has_more) == ([], False)


def test_branch_ids_walks_a_long_chain_root_first(session: Session, user_id: str) -> None:
    _, ids = chain(session, user_id, 1000)
    assert branches.branch_ids(session, leaf_id=ids[-1]) == ids
    assert branches.branch_ids(session, leaf_id=ids[499]) == ids[:500]
    assert branches.branch_ids(session, leaf_id=ids[-1], limit=5) == ids[-6:]
    assert branches.branch_ids(session, leaf_id="missing") == []


def test_threads_and_messages_of_other_users_are_not_found(
    session: Session, settings: Settings, user_id: str, other_user_id: str
) -> None:
    turn = send(session, settings, user_id, "mine")
    assert threads.get_thread(session, user_id=user_id, thread_id=turn.thread_id).title == "mine"
    msg, thread = threads.get_message(session, user_id=user_id,
                                      message_id=turn.assistant_message_id)
    assert (msg.id, thread.id) == (turn.assistant_message_id, turn.thread_id)

    with pytest.raises(NotFoundError):
        threads.get_thread(session, user_id=other_user_id, thread_id=turn.thread_id)
    with pytest.raises(NotFoundError):
        threads.get_message(session, user_id=other_user_id,
                            message_id=turn.assistant_message_id)
    with pytest.raises(NotFoundError):
        branches.visible_page(session, user_id=other_user_id, thread_id=turn.thread_id)
    with pytest.raises(NotFoundError):
        threads.get_thread(session, user_id=user_id, thread_id="does-not-exist")


def test_rename_cleans_the_title_and_marks_it_final(
    engine: Engine, session: Session, settings: Settings, user_id: str, other_user_id: str
) -> None:
    turn = send(session, settings, user_id, "first message")
    threads.rename_thread(session, user_id=user_id, thread_id=turn.thread_id,
                          title="  ## Trip to *Lisbon*\n ")
    session.commit()
    stored = fresh(engine, Thread, turn.thread_id)
    assert stored is not None
    assert (stored.title, stored.title_generated) == ("Trip to Lisbon", True)

    threads.rename_thread(session, user_id=user_id, thread_id=turn.thread_id, title="  ")
    session.commit()
    stored = fresh(engine, Thread, turn.thread_id)
    assert stored is not None and stored.title == "Trip to Lisbon"

    with pytest.raises(NotFoundError):
        threads.rename_thread(session, user_id=other_user_id, thread_id=turn.thread_id,
                              title="hijacked")
    session.commit()
    stored = fresh(engine, Thread, turn.thread_id)
    assert stored is not None and stored.title == "Trip to Lisbon"


def test_delete_hides_at_once_undo_brings_back_and_the_purge_removes_for_good(
    session: Session, settings: Settings, user_id: str, other_user_id: str
) -> None:
    keep = send(session, settings, user_id, "keep me")
    settle(session, keep.assistant_message_id)
    doomed = send(session, settings, user_id, "delete me")
    settle(session, doomed.assistant_message_id)
    retry_sibling = Message(thread_id=doomed.thread_id, parent_id=doomed.user_message_id,
                            role=MessageRole.ASSISTANT, content="other branch")
    session.add(retry_sibling)
    session.commit()

    with pytest.raises(NotFoundError):
        threads.delete_thread(session, user_id=other_user_id, thread_id=doomed.thread_id)
    session.rollback()
    assert count(session, Message) == 5

    threads.delete_thread(session, user_id=user_id, thread_id=doomed.thread_id)
    session.commit()
    assert [t.id for t in threads.list_threads(session, user_id=user_id)] == [keep.thread_id]
    assert threads.list_threads(session, user_id=user_id, archived=True) == []
    with pytest.raises(NotFoundError):
        branches.visible_page(session, user_id=user_id, thread_id=doomed.thread_id)
    with pytest.raises(NotFoundError):
        threads.undo_delete(session, user_id=other_user_id, thread_id=doomed.thread_id)
    with pytest.raises(NotFoundError):  # only a deleted thread can be undeleted
        threads.undo_delete(session, user_id=user_id, thread_id=keep.thread_id)

    threads.undo_delete(session, user_id=user_id, thread_id=doomed.thread_id)
    session.commit()
    assert len(branches.visible_page(session, user_id=user_id,
                                     thread_id=doomed.thread_id).messages) == 2
    assert {t.id for t in threads.list_threads(session, user_id=user_id)} == {
        keep.thread_id, doomed.thread_id}

    threads.delete_thread(session, user_id=user_id, thread_id=doomed.thread_id)
    session.commit()
    assert threads.purge_deleted(session) == 0  # still in its undo window
    assert threads.purge_deleted(session, older_than=timedelta(0)) == 1
    session.commit()
    left = session.exec(select(Message.thread_id)).all()
    assert set(left) == {keep.thread_id} and len(left) == 2
    with pytest.raises(NotFoundError):
        threads.undo_delete(session, user_id=user_id, thread_id=doomed.thread_id)


def _threads_at(session: Session, settings: Settings, user_id: str, n: int,
                base: datetime) -> list[str]:
    """`n` threads, the i-th active at base + i minutes (the last is the newest)."""
    ids = []
    for i in range(n):
        turn = send(session, settings, user_id, f"thread {i}")
        settle(session, turn.assistant_message_id, f"answer {i}")
        thread = session.get(Thread, turn.thread_id)
        assert thread is not None
        thread.updated_at = base + timedelta(minutes=i)
        session.add(thread)
        ids.append(thread.id)
    session.commit()
    return ids


def test_pinned_first_archived_apart_previews_counts_and_pages(
    session: Session, settings: Settings, user_id: str, other_user_id: str
) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    ids = _threads_at(session, settings, user_id, 7, base)
    # Two with the same moment: the order still holds, and no page repeats or skips one.
    tie = session.get(Thread, ids[3])
    assert tie is not None
    tie.updated_at = base + timedelta(minutes=2)
    session.add(tie)
    threads.set_pinned(session, user_id=user_id, thread_id=ids[0], pinned=True)
    threads.set_archived(session, user_id=user_id, thread_id=ids[5], archived=True)
    session.commit()
    with pytest.raises(NotFoundError):
        threads.set_pinned(session, user_id=other_user_id, thread_id=ids[1], pinned=True)
    with pytest.raises(NotFoundError):
        threads.set_archived(session, user_id=other_user_id, thread_id=ids[1], archived=True)
    session.rollback()

    first = threads.thread_page(session, user_id=user_id, limit=3)
    assert first.threads[0].id == ids[0] and first.threads[0].pinned
    assert [t.id for t in first.threads[1:]] == [ids[6], ids[4], *sorted(
        [ids[2], ids[3]], reverse=True)[:1]]
    assert first.cursor
    rest: list[str] = []
    cursor = first.cursor
    while cursor:
        page = threads.thread_page(session, user_id=user_id, cursor=cursor, limit=3)
        rest += [t.id for t in page.threads]
        cursor = page.cursor
    listed = [t.id for t in first.threads] + rest
    assert sorted(listed) == sorted(set(ids) - {ids[5]}) and len(listed) == 6
    summary = first.threads[1]
    assert (summary.preview, summary.message_count) == ("answer 6", 2)

    archived = threads.list_threads(session, user_id=user_id, archived=True)
    assert [(t.id, t.archived) for t in archived] == [(ids[5], True)]
    threads.set_archived(session, user_id=user_id, thread_id=ids[5], archived=False)
    assert ids[5] in [t.id for t in threads.list_threads(session, user_id=user_id)]
    assert threads.list_threads(session, user_id=other_user_id) == []


NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("updated_at", "label"),
    [
        (NOW, "Today"),
        (datetime(2025, 3, 10, 0, 0, tzinfo=UTC), "Today"),
        (NOW + timedelta(minutes=5), "Today"),  # a clock a little ahead
        (datetime(2025, 3, 9, 23, 59, tzinfo=UTC), "Yesterday"),
        (datetime(2025, 3, 9, 0, 0, tzinfo=UTC), "Yesterday"),
        (datetime(2025, 3, 8, 23, 59, tzinfo=UTC), "Previous 7 days"),
        (datetime(2025, 3, 3, 12, 0, tzinfo=UTC), "Previous 7 days"),
        (datetime(2025, 3, 2, 12, 0, tzinfo=UTC), "Previous 30 days"),
        (datetime(2025, 2, 8, 12, 0, tzinfo=UTC), "Previous 30 days"),
        (datetime(2025, 2, 7, 12, 0, tzinfo=UTC), "February 2025"),
        (datetime(2024, 3, 10, 9, 30, tzinfo=UTC), "March 2024"),
    ],
)
def test_group_label(updated_at: datetime, label: str) -> None:
    assert threads.group_label(updated_at, now=NOW) == label


def test_group_label_follows_the_users_days() -> None:
    # Late evening in New York is already the next day in UTC: the user's days decide.
    new_york = threads.zone_named("America/New_York")
    evening = datetime(2025, 3, 9, 23, 30, tzinfo=new_york)  # 03:30 UTC on the 10th
    morning_after = datetime(2025, 3, 10, 8, 0, tzinfo=new_york)
    assert threads.group_label(evening, now=morning_after) == "Today"  # same UTC day
    assert threads.group_label(evening, now=morning_after, zone=new_york) == "Yesterday"
    # A month is the user's month too.
    new_year = datetime(2025, 1, 1, 2, 0, tzinfo=UTC)
    tokyo, la = threads.zone_named("Asia/Tokyo"), threads.zone_named("America/Los_Angeles")
    assert threads.group_label(new_year, now=NOW, zone=tokyo) == "January 2025"
    assert threads.group_label(new_year, now=NOW, zone=la) == "December 2024"


@pytest.mark.parametrize("name", [None, "", "Mars/Olympus_Mons", "../../etc/passwd",
                                  "/etc/localtime", "Europe/../UTC", "x" * 80, "Europe/Paris;"])
def test_unknown_time_zones_are_utc(name: str | None) -> None:
    assert threads.zone_named(name) is UTC


def test_zone_cookie_read_beside_the_session() -> None:
    header = 'other="{json}"; chatapp_tz=Europe/Paris; chatapp_session=abc'
    assert tokens.cookie_value(header, threads.ZONE_COOKIE) == "Europe/Paris"
    assert str(threads.zone_named(tokens.cookie_value(header, threads.ZONE_COOKIE))) == \
        "Europe/Paris"
    assert tokens.token_from_cookie_header(header) == "abc"
