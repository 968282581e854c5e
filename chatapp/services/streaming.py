"""Splitting live Markdown so only its unfinished tail changes on each flush."""

from __future__ import annotations

FENCE = "```"


def stable_prefix_length(text: str, *, min_tail: int = 0) -> int:
    """Length of the longest prefix that ends on a blank line outside any code fence.

    That prefix renders the same whatever comes next, so the browser can keep it while
    only the tail after it is re-sent and re-rendered.
    """
    cut = 0
    in_fence = False
    pos = 0
    limit = len(text) - min_tail
    for line in text.splitlines(keepends=True):
        end = pos + len(line)
        if line.lstrip().startswith(FENCE):
            in_fence = not in_fence
        elif not in_fence and not line.strip() and line.endswith("\n") and end <= limit:
            cut = end
        pos = end
    return cut
