"""Full-text search on SQLite FTS5 and PostgreSQL tsvector: ranked, grouped by thread, words
marked, each user's own words only, kept in step with every write."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from chatapp.config import Settings
from chatapp.models import Message, MessageStatus
from chatapp.services.chat import branches, search, threads, turns
from tests.services.helpers import FREE, send, settle


def _chat(session: Session, settings: Settings, user_id: str, question: str,
          answer: str) -> tuple[str, str]:
    turn = send(session, settings, user_id, question)
    settle(session, turn.assistant_message_id, answer)
    return turn.thread_id, turn.assistant_message_id


def _marked(hit: search.MessageHit | search.ThreadHit) -> list[str]:
    parts = hit.snippet if isinstance(hit, search.MessageHit) else hit.title
    return [s.text.lower() for s in parts if s.marked]


def test_each_user_finds_only_their_own_words(
    session: Session, settings: Settings, user_id: str, other_user_id: str
) -> None:
    mine, my_reply = _chat(session, settings, user_id, "Plan a trip", "Visit the aquarium early")
    theirs, _ = _chat(session, settings, other_user_id, "Plan a trip", "The aquarium is closed")

    found = search.search(session, user_id=user_id, query="aquarium")
    assert [t.thread_id for t in found] == [mine]
    assert [h.message_id for h in found[0].hits] == [my_reply]
    assert _marked(found[0].hits[0]) == ["aquarium"]
    assert "".join(s.text for s in found[0].hits[0].snippet) == "Visit the aquarium early"
    assert [t.thread_id for t in search.search(session, user_id=other_user_id,
                                               query="aquarium")] == [theirs]
    assert search.search(session, user_id="nobody", query="aquarium") == []


def test_ranked_prefix_and_stemmed_with_titles_first(
    session: Session, settings: Settings, user_id: str
) -> None:
    weak, _ = _chat(session, settings, user_id, "Gardening", "Tomatoes like sun and some"
                    " water, and a long answer about many other things in the garden too")
    strong, _ = _chat(session, settings, user_id, "Salad", "Tomatoes, tomatoes, tomatoes")
    titled = threads.rename_thread(session, user_id=user_id, thread_id=weak,
                                   title="Growing tomatoes")
    session.commit()
    assert titled.title == "Growing tomatoes"

    found = search.search(session, user_id=user_id, query="tomato")  # a prefix, stemmed
    assert [t.thread_id for t in found] == [weak, strong]  # the title match first
    assert _marked(found[0]) == ["tomatoes"]
    assert [_marked(h) for h in found[1].hits] == [["tomatoes"] * 3]
    # Every word must match.
    assert [t.thread_id for t in search.search(session, user_id=user_id,
                                               query="tomatoes sun")] == [weak]
    assert search.search(session, user_id=user_id, query="grow")[0].thread_id == weak
    assert search.search(session, user_id=user_id, query="  ") == []
    assert search.search(session, user_id=user_id, query='"*) OR (NEAR:') == []


def test_message_rank_order(session: Session, settings: Settings, user_id: str) -> None:
    once, _ = _chat(session, settings, user_id, "First",
                    "One mention of volcano among a great many other words here and there")
    often, _ = _chat(session, settings, user_id, "Second", "volcano volcano volcano")
    found = search.search(session, user_id=user_id, query="volcano")
    assert [t.thread_id for t in found] == [often, once]


def test_every_form_of_a_prefix_marked_also_past_the_start_of_a_long_reply(
    session: Session, settings: Settings, user_id: str
) -> None:
    forms, forms_reply = _chat(session, settings, user_id, "Garden",
                               "Tomatoes ripen early; one tomato was late")
    long, long_reply = _chat(session, settings, user_id, "Essay",
                             "lorem ipsum " * 250 + "then kumquatery at last")
    short, _ = _chat(session, settings, user_id, "Fruit", "a kumquat")

    found = search.search(session, user_id=user_id, query="tomat")
    assert [t.thread_id for t in found] == [forms]
    assert [h.message_id for h in found[0].hits] == [forms_reply]
    assert _marked(found[0].hits[0]) == ["tomatoes", "tomato"]

    # The long reply's only match lies far past the start of it, and is a form the other hit
    # does not have: it is found, and marked, all the same.
    found = search.search(session, user_id=user_id, query="kumquat")
    assert {t.thread_id for t in found} == {long, short}
    hits = {h.message_id: h for t in found for h in t.hits}
    assert _marked(hits[long_reply]) == ["kumquatery"]
    assert "".join(s.text for s in hits[long_reply].snippet).endswith("then kumquatery at last")


def test_two_words_rank_and_mark_both(session: Session, settings: Settings, user_id: str) -> None:
    both, _ = _chat(session, settings, user_id, "Trip", "The harbor lighthouse at dusk")
    _chat(session, settings, user_id, "Other", "A harbor without one")
    found = search.search(session, user_id=user_id, query="lighthouse harbor")
    assert [t.thread_id for t in found] == [both]
    assert _marked(found[0].hits[0]) == ["harbor", "lighthouse"]


def test_index_follows_writes_streaming_archive_delete(
    session: Session, settings: Settings, user_id: str
) -> None:
    thread_id, reply_id = _chat(session, settings, user_id, "Question", "kiwi answer")
    streaming = send(session, settings, user_id, "more", thread_id=thread_id)
    reply = session.get(Message, streaming.assistant_message_id)
    assert reply is not None
    reply.content, reply.status = "mango being written", MessageStatus.STREAMING
    session.add(reply)
    session.commit()
    assert search.search(session, user_id=user_id, query="mango") == []  # not while streaming
    settle(session, streaming.assistant_message_id, "mango finished")
    assert [h.message_id for t in search.search(session, user_id=user_id, query="mango")
            for h in t.hits] == [streaming.assistant_message_id]
    settle(session, reply_id, "papaya now")  # an update re-indexes
    assert search.search(session, user_id=user_id, query="kiwi") == []
    assert search.search(session, user_id=user_id, query="papaya")

    threads.set_archived(session, user_id=user_id, thread_id=thread_id, archived=True)
    session.commit()
    assert search.search(session, user_id=user_id, query="papaya") == []
    found = search.search(session, user_id=user_id, query="papaya", include_archived=True)
    assert found and found[0].archived

    threads.delete_thread(session, user_id=user_id, thread_id=thread_id)
    session.commit()
    assert search.search(session, user_id=user_id, query="papaya", include_archived=True) == []
    threads.purge_deleted(session, older_than=timedelta(0))
    session.commit()
    assert search.search(session, user_id=user_id, query="papaya", include_archived=True) == []


def test_a_hit_on_another_branch_opens_that_branch(
    session: Session, settings: Settings, user_id: str
) -> None:
    thread_id, reply_id = _chat(session, settings, user_id, "Question", "zebra answer")
    again = turns.retry_turn(session, settings=settings, user_id=user_id, message_id=reply_id,
                             admission=FREE)
    session.commit()
    settle(session, again.assistant_message_id, "giraffe answer")
    assert "zebra answer" not in [m.content for m in branches.visible_page(
        session, user_id=user_id, thread_id=thread_id).messages]
    hit = search.search(session, user_id=user_id, query="zebra")[0].hits[0]
    page = branches.page_around(session, user_id=user_id, message_id=hit.message_id)
    assert reply_id in [m.id for m in page.messages]
    session.commit()
    assert "zebra answer" in [m.content for m in branches.visible_page(
        session, user_id=user_id, thread_id=thread_id).messages]
