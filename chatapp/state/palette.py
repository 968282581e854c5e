"""The command palette (Cmd/Ctrl+K): recent threads when empty, full-text search as one types,
and a few actions."""

from __future__ import annotations

import reflex as rx

from chatapp import db
from chatapp.errors import ChatappError
from chatapp.services.chat import search
from chatapp.state.user import reader_id
from chatapp.state.views import SearchResultView, search_results


class PaletteState(rx.State):
    shown: bool = False
    query: str = ""
    results: list[SearchResultView] = []
    include_archived: bool = False
    searched: bool = False  # a search ran for `query` (so "no results" can be told apart)
    notice: str = ""

    @rx.event
    def open_palette(self) -> None:
        self.shown = True

    @rx.event
    def opened(self, shown: bool) -> None:
        """The dialog opened or closed itself (Esc, a click outside, a result chosen)."""
        self.shown = bool(shown)

    @rx.event
    async def search(self, query: str) -> None:
        self.query = str(query)[:200]
        await self._run()

    @rx.event
    async def toggle_archived(self, include: bool) -> None:
        self.include_archived = bool(include)
        await self._run()

    async def _run(self) -> None:
        self.notice = ""
        if not search.terms(self.query):
            self.results, self.searched = [], False
            return
        try:
            user_id = await reader_id(self)
            found = await db.run(lambda s: search.search(
                s, user_id=user_id, query=self.query, include_archived=self.include_archived))
        except ChatappError as exc:
            self.notice, self.results = exc.user_message, []
            return
        self.results, self.searched = search_results(found), True
