"""Is the embedded local model's server answering? (cached briefly; checked on page load)"""

from __future__ import annotations

import time

import httpx

from chatapp.config import Settings

_CACHE_SECONDS = 5.0
_last: tuple[float, bool] | None = None


async def is_online(settings: Settings) -> bool:
    global _last
    if not settings.local_model_enabled:
        return False
    now = time.monotonic()
    if _last is not None and now - _last[0] < _CACHE_SECONDS:
        return _last[1]
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            response = await client.get(f"{settings.local_model_base_url}/models")
            online = response.status_code == 200
    except httpx.HTTPError:
        online = False
    _last = (now, online)
    return online
