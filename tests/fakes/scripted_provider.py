"""A scripted Provider for domain tests: fixed events, optional delay and failure, and a record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence

from chatapp.config import Settings
from chatapp.errors import ModelUnavailableError
from chatapp.providers.base import Accepted, Event, Provider, StreamRequest, TextDelta
from chatapp.providers.catalog import ModelInfo, get_model


class ScriptedProvider(Provider):
    """Yields `events` in order, waiting `delay` seconds before each one.

    With `error`, raises it after `raise_after` events (after all of them when None), the way
    a provider fails before or mid-stream. Like a real adapter it first yields `Accepted`,
    except when it fails before any event (a refused request). Every StreamRequest is kept in
    `requests`; `closed_early` says whether the consumer closed a stream (``aclose``) before it
    ended.
    """

    def __init__(
        self,
        events: Sequence[Event] = (),
        *,
        error: BaseException | None = None,
        raise_after: int | None = None,
        delay: float = 0.0,
        check_error: BaseException | None = None,
    ) -> None:
        self.events = list(events)
        self.error = error
        self.raise_after = len(self.events) if raise_after is None else raise_after
        self.delay = delay
        self.requests: list[StreamRequest] = []
        self.closed_early = False
        self.closed = False  # the adapter was closed (aclose), as every caller must
        self.sent = 0  # events handed to the consumer, over all streams
        self.check_error = check_error
        self.checked = 0

    @classmethod
    def text(
        cls,
        *chunks: str,
        error: BaseException | None = None,
        raise_after: int | None = None,
        delay: float = 0.0,
    ) -> ScriptedProvider:
        """A provider that streams these text chunks."""
        return cls(
            [TextDelta(c) for c in chunks], error=error, raise_after=raise_after, delay=delay
        )

    def stream(self, request: StreamRequest) -> _ScriptedStream:
        self.requests.append(request)
        return _ScriptedStream(self)

    async def check(self) -> None:
        """A key check: fails with `check_error` when one is scripted."""
        self.checked += 1
        if self.check_error is not None:
            raise self.check_error

    async def aclose(self) -> None:
        self.closed = True


class _ScriptedStream(AsyncGenerator[Event, None]):
    """The stream of one request (a class, not a generator, so aclose is observable)."""

    def __init__(self, provider: ScriptedProvider) -> None:
        self._provider = provider
        self._index = 0
        self._ended = False
        refused = provider.error is not None and provider.raise_after == 0
        self._accepted = refused  # already "past" Accepted when there is none to give

    def __aiter__(self) -> _ScriptedStream:
        return self

    async def __anext__(self) -> Event:
        p = self._provider
        if self._ended:
            raise StopAsyncIteration
        if not self._accepted:
            self._accepted = True
            return Accepted()
        if p.error is not None and self._index >= p.raise_after:
            self._ended = True
            raise p.error
        if self._index >= len(p.events):
            self._ended = True
            raise StopAsyncIteration
        if p.delay:
            await asyncio.sleep(p.delay)
        event = p.events[self._index]
        self._index += 1
        p.sent += 1
        return event

    async def aclose(self) -> None:
        if not self._ended:
            self._provider.closed_early = True
        self._ended = True

    async def asend(self, value: None) -> Event:
        return await self.__anext__()

    async def athrow(self, typ, val=None, tb=None) -> Event:  # type: ignore[no-untyped-def, override]
        self._ended = True
        raise typ if val is None else val


class Resolver:
    """A stand-in for chatapp.services.models.resolve that always hands out one provider.

    The catalog entry is `model_id`'s (default: whichever id the service asks for); unknown ids
    raise ModelUnavailableError like the real resolver. `context_window` overrides the entry's.
    `own_keys` records the user keys each call was given ({} when it was the server's key).
    """

    def __init__(self, provider: Provider, model_id: str | None,
                 context_window: int | None) -> None:
        self.provider, self.model_id, self.context_window = provider, model_id, context_window
        self.own_keys: list[dict[str, str]] = []

    def __call__(self, settings: Settings, requested: str,
                 own_keys: Mapping[str, str] | None = None) -> tuple[ModelInfo, Provider]:
        self.own_keys.append(dict(own_keys or {}))
        wanted = self.model_id or requested
        model = get_model(wanted)
        if model is None:
            raise ModelUnavailableError(
                f"unknown model {wanted!r}", user_message=f"Unknown model “{wanted}”."
            )
        if self.context_window is not None:
            model = ModelInfo(
                model.provider, model.api_model, model.label, self.context_window,
                vision=model.vision, reasoning=model.reasoning, tools=model.tools,
            )
        return model, self.provider


def resolver(
    provider: Provider, model_id: str | None = None, *, context_window: int | None = None
) -> Resolver:
    return Resolver(provider, model_id, context_window)
