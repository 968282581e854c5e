"""The sidebar: the user's threads, grouped by recency, with a spinner on generating ones."""

from __future__ import annotations

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

    async def _refresh(self, user_id: str) -> None:
        """Reload the list (private: called by other states, never by the browser)."""
        summaries = await db.run(lambda s: threads.list_threads(s, user_id=user_id))
        self.threads = thread_items(summaries)
        if user_id == VISITOR:  # a first visit: nothing stored yet
            self.signed_in, self.user_label, self.avatar_url = False, "Account", ""
            return
        profile = await db.run(lambda s: accounts.profile(s, user_id=user_id))
        self.signed_in = not profile.is_anonymous
        self.user_label = profile.name or profile.email or "Account"
        self.avatar_url = profile.avatar_url

    def _mark_generating(self, thread_id: str, generating: bool) -> None:
        self.threads = [
            ThreadItem(t.id, t.title, t.group, t.first_in_group, generating)
            if t.id == thread_id else t
            for t in self.threads
        ]

    def _set_title(self, thread_id: str, title: str) -> None:
        self.threads = [
            ThreadItem(t.id, title, t.group, t.first_in_group, t.generating)
            if t.id == thread_id else t
            for t in self.threads
        ]
