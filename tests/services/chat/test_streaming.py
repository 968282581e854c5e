"""Where a live Markdown reply may be split so its finished head never has to be re-rendered."""

from __future__ import annotations

import pytest

from chatapp.services.chat.streaming import stable_prefix_length

SAMPLE = """# Boiling an egg

Put the egg in a pot and cover it with cold water.
Bring it to a boil.

1. Soft: 6 minutes
2. Hard: 10 minutes

```python
def boil(minutes: int) -> str:
    timer = minutes * 60

    return "done"
```

While it cooks:

    indented code, not a fence

~~~
tilde block
~~~

```
unclosed at first

still code
```
Then cool it in ice water.

> A quote
>
> with a blank quote line

Done.
"""


def _split(text: str, **kwargs: int) -> tuple[str, str]:
    cut = stable_prefix_length(text, **kwargs)
    return text[:cut], text[cut:]


@pytest.mark.parametrize(
    ("text", "head"),
    [
        ("", ""),
        ("no blank line yet", ""),
        ("one line\nsecond line", ""),
        ("para one\n\npara two", "para one\n\n"),
        ("para one\n\npara two\n\npara thr", "para one\n\npara two\n\n"),
        ("para one\n   \npara two", "para one\n   \n"),
        ("para one\n\n", "para one\n\n"),
        ("a\r\n\r\nb", "a\r\n\r\n"),
        ("intro\n\n```py\nx = 1\n\ny = 2\n", "intro\n\n"),
        ("intro\n\n```\ncode\n\nmore\n```\n\nafter", "intro\n\n```\ncode\n\nmore\n```\n\n"),
        ("  ```\nindented fence\n\n  ```\n\ntail", "  ```\nindented fence\n\n  ```\n\n"),
        ("intro\n\n`` not a fence\n\nx", "intro\n\n`` not a fence\n\n"),
    ],
)
def test_cuts_only_at_blank_lines_outside_fences(text: str, head: str) -> None:
    got_head, tail = _split(text)
    assert got_head == head
    assert got_head + tail == text


def _fenced_spans(doc: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each ``` block, from the opening line to the closing line's end."""
    spans, start, pos = [], None, 0
    for line in doc.split("\n"):
        end = pos + len(line) + 1
        if line.lstrip().startswith("```"):
            if start is None:
                start = pos
            else:
                spans.append((start, end))
                start = None
        pos = end
    assert start is None, "the sample's fences should all be closed"
    return spans


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_the_cut_only_moves_forward_and_never_into_a_fence(newline: str) -> None:
    doc = SAMPLE.replace("\n", newline)
    spans = _fenced_spans(SAMPLE)
    previous = 0
    cuts = set()
    for i in range(len(doc) + 1):
        text = doc[:i]
        cut = stable_prefix_length(text)
        assert 0 <= cut <= i
        assert cut >= previous, f"cut moved back from {previous} to {cut} at {i}"
        head = text[:cut]
        assert head + text[cut:] == text
        plain = head.replace("\r\n", "\n")
        if cut:  # the head ends with a blank line
            assert plain.endswith("\n") and not plain[:-1].rsplit("\n", 1)[-1].strip()
        assert not any(a < len(plain) < b for a, b in spans), f"cut inside a fence at {i}"
        previous = cut
        cuts.add(cut)
    # The live split is useful: the head grows paragraph by paragraph, not once at the end.
    assert len(cuts) >= 6
    assert doc[:stable_prefix_length(doc)] == doc[:doc.index("Done.")]


def test_tilde_and_longer_fences_are_respected() -> None:
    tilde = "a\n\n~~~\nx\n\ny\n~~~\n\nb"
    assert tilde[: stable_prefix_length(tilde)] == "a\n\n~~~\nx\n\ny\n~~~\n\n"
    # A shorter backtick line inside a four-backtick fence does not close it.
    nested = "a\n\n````\n```\n\nz\n"
    assert stable_prefix_length(nested) == len("a\n\n")
