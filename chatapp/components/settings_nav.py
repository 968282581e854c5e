"""The settings pages' shared frame: Account · Models · Keys · Usage, and a section block."""

from __future__ import annotations

import reflex as rx

SETTINGS_PAGES = (
    ("account", "Account", "/settings/account"),
    ("models", "Models", "/settings/models"),
    ("keys", "Keys", "/settings/keys"),
    ("usage", "Usage", "/settings/usage"),
)


def settings_nav(current: str) -> rx.Component:
    """Links to every settings page; `current` ('account', 'models', 'keys', 'usage') is
    shown as the active one."""
    links = []
    for i, (key, label, href) in enumerate(SETTINGS_PAGES):
        if i:
            links.append(rx.text("·", color_scheme="gray", size="2"))
        links.append(rx.link(
            label, href=href, size="2",
            weight="bold" if key == current else "regular",
            color_scheme="gray" if key == current else None,
            aria_current="page" if key == current else None,
            data_testid=f"settings-nav-{key}",
        ))
    return rx.hstack(
        rx.link("← Back to chats", href="/", size="2"),
        rx.spacer(),
        *links,
        align="center", spacing="2", width="100%", data_testid="settings-nav",
    )


def settings_section(title: str, *children: rx.Component) -> rx.Component:
    return rx.vstack(rx.heading(title, size="4"), *children, spacing="3", width="100%",
                     class_name="settings-section")


def settings_page(current: str, title: str, *children: rx.Component,
                  max_width: str = "640px") -> rx.Component:
    """A settings page: the navigation, a heading and the page's sections."""
    return rx.center(
        rx.vstack(
            settings_nav(current),
            rx.heading(title, size="7"),
            *children,
            spacing="5", width="100%", max_width=max_width, padding="32px 20px",
        ),
    )
