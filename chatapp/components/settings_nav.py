"""The one frame of every settings page (back link, navigation, heading, body) and a section.

The frame does not know which settings pages exist: the route table (`chatapp.pages.routes`)
passes them in, so the navigation cannot list a page the app lacks, nor miss one it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import reflex as rx

FRAME_TESTID = "settings-frame"
NAV_TESTID = "settings-nav"


@dataclass(frozen=True)
class SettingsLink:
    """One entry of the settings navigation."""

    label: str
    href: str

    @property
    def key(self) -> str:
        """The last path segment ('account' for /settings/account), for the link's test id."""
        return self.href.rstrip("/").rsplit("/", 1)[-1]


def settings_nav(links: Sequence[SettingsLink], current: str) -> rx.Component:
    """The links to every settings page, in the order given; the one whose href is `current`
    is shown as the page the user is on."""
    items: list[rx.Component] = []
    for i, link in enumerate(links):
        here = link.href == current
        if i:
            items.append(rx.text("·", color_scheme="gray", size="2", aria_hidden="true"))
        items.append(rx.link(
            link.label, href=link.href, size="2",
            weight="bold" if here else "regular",
            color_scheme="gray" if here else None,
            aria_current="page" if here else None,
            data_testid=f"{NAV_TESTID}-{link.key}",
        ))
    return rx.el.nav(
        rx.hstack(*items, align="center", spacing="2"),
        aria_label="Settings",
        data_testid=NAV_TESTID,
    )


def settings_section(title: str, *children: rx.Component) -> rx.Component:
    """A titled block of a settings page, ruled off from the one above."""
    return rx.vstack(rx.heading(title, size="4"), *children, spacing="3", width="100%",
                     class_name="settings-section")


def settings_notice(notice: rx.Var[str], testid: str) -> rx.Component:
    """The page's notice (why something was refused), shown while there is one."""
    return rx.cond(notice != "", rx.callout(notice, icon="info", color_scheme="red", size="1",
                                            data_testid=testid))


def settings_frame(body: rx.Component, *, heading: str, links: Sequence[SettingsLink],
                   current: str, max_width: str = "640px") -> rx.Component:
    """A settings page: back to the chats and the settings navigation on one line (two on a
    narrow screen), the page's heading, then its body (a fragment: its children are spaced
    like the frame's own)."""
    return rx.center(
        rx.vstack(
            rx.flex(
                rx.link("← Back to chats", href="/", size="2", white_space="nowrap",
                        data_testid="settings-back"),
                rx.spacer(),
                settings_nav(links, current),
                align="center", wrap="wrap", spacing="2", width="100%",
            ),
            rx.heading(heading, size="7"),
            body,
            # min_width 0: a wide table scrolls in its own box instead of widening the page.
            spacing="5", width="100%", max_width=max_width, min_width="0", padding="32px 20px",
            data_testid=FRAME_TESTID,
        ),
    )
