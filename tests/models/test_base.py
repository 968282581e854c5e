"""Column helpers: ids that are safe in URLs and on command lines."""

from __future__ import annotations

import re

from chatapp.models.base import new_id


def test_ids_are_url_safe_unique_and_never_look_like_an_option() -> None:
    ids = [new_id() for _ in range(5000)]  # with a plain token_urlsafe, ~78 would start with "-"
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", i) for i in ids)
    assert len(set(ids)) == len(ids)
