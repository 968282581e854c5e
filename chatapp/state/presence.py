"""Whether a tab is still connected, for background tasks that serve one tab."""

from __future__ import annotations

import logging

from reflex_base.registry import RegistrationContext

log = logging.getLogger(__name__)


async def tab_connected(client_token: str) -> bool:
    """True while some worker holds a socket for this tab's token (and when it cannot be told:
    no socket server, as in tests, is not a reason to stop serving)."""
    try:
        namespace = RegistrationContext.get().app.event_namespace
    except Exception:  # no app registered in this process
        return True
    if namespace is None:
        return True
    # The public token_to_sid only knows this worker's sockets; the token manager knows every
    # worker's (Redis), as Reflex's own shared-state fan-out asks it (reflex/istate/shared.py).
    return await namespace._token_manager.is_token_connected(client_token)
