"""The sidebar: the user's threads, grouped by recency, with a spinner on generating ones."""

from __future__ import annotations

import dataclasses

import reflex as rx

from chatapp import db
from chatapp.services.chat import threads
from chatapp.services.identity import accounts
from chatapp.state.user import VISITOR
from chatapp.state.views import ThreadItem, thread_items


class SidebarState(rx.State):
    threads: list[ThreadItem] = []
    signed_in: bool = False
    user_label: str = ""
    avatar_url: str = ""


# --- what other states may do to the sidebar ---------------------------------------------


async def refresh(state: SidebarState, user_id: str) -> None:
    """Reload the list and the account footer."""
    summaries = await db.run(lambda s: threads.list_threads(s, user_id=user_id))
    state.threads = thread_items(summaries)
    if user_id == VISITOR:  # a first visit: nothing stored yet
        state.signed_in, state.user_label, state.avatar_url = False, "Account", ""
        return
    profile = await db.run(lambda s: accounts.profile(s, user_id=user_id))
    state.signed_in = not profile.is_anonymous
    state.user_label = profile.name or profile.email or "Account"
    state.avatar_url = profile.avatar_url


def mark_generating(state: SidebarState, thread_id: str, generating: bool) -> None:
    _change(state, thread_id, generating=generating)


def set_title(state: SidebarState, thread_id: str, title: str) -> None:
    _change(state, thread_id, title=title)


def _change(state: SidebarState, thread_id: str, **changes: object) -> None:
    state.threads = [dataclasses.replace(t, **changes) if t.id == thread_id else t
                     for t in state.threads]
