"""Splitting live Markdown so only its unfinished tail changes on each flush."""

from __future__ import annotations

import re

# CommonMark fences: 3+ backticks or tildes, indented at most 3 spaces.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def stable_prefix_length(text: str) -> int:
    """Length of the longest prefix that ends on a blank line outside any code fence.

    That prefix renders the same whatever comes next, so the browser can keep it while
    only the tail after it is re-sent and re-rendered.
    """
    cut = 0
    fence: str | None = None  # the opening fence while inside a code block
    pos = 0
    for line in text.splitlines(keepends=True):
        end = pos + len(line)
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
        elif fence is not None and match:
            marker = match.group(1)
            # A fence closes only with the same character, at least as long, nothing after.
            if marker[0] == fence[0] and len(marker) >= len(fence) and not line[
                match.end():
            ].strip():
                fence = None
        elif fence is None and not line.strip() and line.endswith("\n"):
            cut = end
        pos = end
    return cut
