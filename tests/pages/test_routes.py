"""The route table is the app's pages and its settings navigation, and settings pages share a frame.

Cheap: the app is imported and each page's component is built and rendered to its compiled
JSX; no browser, no server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import reflex as rx
from reflex_base.components.component import Component
from reflex_base.utils.format import format_route

from chatapp.chatapp import app
from chatapp.components.settings_nav import FRAME_TESTID, NAV_TESTID
from chatapp.pages import routes
from chatapp.pages.routes import ROUTES, Route, SettingsEntry

# What the browser's tab shows; the e2e tests and bookmarks know these paths.
TITLES = {
    "/": "chatapp",
    "/chat/[thread_id]": "chatapp",
    "/signin": "Sign in · chatapp",
    "/settings/account": "Account · chatapp",
    "/settings/models": "Models · chatapp",
    "/settings/keys": "API keys · chatapp",
    "/settings/usage": "Usage · chatapp",
}
SETTINGS = [r for r in ROUTES if r.settings is not None]
LINK, HEADING = type(rx.link("x", href="/")), type(rx.heading("x"))


def _key(route: Route) -> str:
    return format_route(route.path)


def _walk(component: Component) -> Iterator[Component]:
    yield component
    for child in component.children:
        yield from _walk(child)


def _testid(component: Component) -> str | None:
    testid = component.custom_attrs.get("data-testid")
    return testid if isinstance(testid, str) else None  # not one computed in the browser


def _find(component: Component, testid: str) -> list[Component]:
    return [c for c in _walk(component) if _testid(c) == testid]


def _nav_links(page: Component) -> list[tuple[str, str, str, bool]]:
    """(label, href, test id, marked current) of each link in the page's settings nav."""
    (nav,) = _find(page, NAV_TESTID)
    links = []
    for link in (c for c in _walk(nav) if isinstance(c, LINK)):
        (target,) = [c for c in _walk(link) if hasattr(c, "to")]
        label = "".join(str(c.contents).strip('"') for c in _walk(link) if hasattr(c, "contents"))
        links.append((label, str(target.to).strip('"'), _testid(link) or "",
                      link.custom_attrs.get("aria-current") == "page"))
    return links


def _render(route: Route) -> Component:
    return app._unevaluated_pages[_key(route)].component()


def test_every_route_of_the_table_is_a_page_with_its_title_and_on_load() -> None:
    pages = app._unevaluated_pages
    assert len({_key(r) for r in ROUTES}) == len(ROUTES), "two table rows for one path"
    assert set(pages) == {_key(r) for r in ROUTES}, "a page outside the table, or a row not added"
    for route in ROUTES:
        page = pages[_key(route)]
        assert page.title == route.title == TITLES[route.path]
        assert page.on_load == route.on_load
        if route.settings is None:
            assert page.component is route.component
    assert {r.path for r in ROUTES} == set(TITLES)


@pytest.mark.parametrize("route", SETTINGS, ids=lambda r: r.path)
def test_the_settings_navigation_lists_the_settings_routes_of_the_table_in_order(
    route: Route,
) -> None:
    links = _nav_links(_render(route))
    assert [(label, href) for label, href, _, _ in links] == [
        (r.settings.label, r.path) for r in SETTINGS if r.settings
    ]
    # Only its own link is marked current; test ids are what the e2e tests click.
    assert [href for _, href, _, current in links if current] == [route.path]
    assert [testid for _, _, testid, _ in links] == [
        "settings-nav-" + r.path.rsplit("/", 1)[-1] for r in SETTINGS
    ]
    # Every page under /settings/ has its link, the table has no other settings row.
    assert {_key(r) for r in SETTINGS} == {k for k in app._unevaluated_pages
                                            if k.startswith("settings/")}


def test_the_navigation_follows_the_table_not_a_list_of_its_own() -> None:
    reordered = (*SETTINGS[1:], SETTINGS[0])
    page = routes.page(SETTINGS[0], reordered)()
    assert [href for _, href, _, _ in _nav_links(page)] == [r.path for r in reordered]
    assert [href for _, href, _, _ in _nav_links(routes.page(SETTINGS[0], SETTINGS[:2])())] \
        == [r.path for r in SETTINGS[:2]]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.path)
def test_every_settings_page_renders_in_the_one_frame_and_no_other_page_does(
    route: Route,
) -> None:
    page = _render(route)
    frames = _find(page, FRAME_TESTID)
    if route.settings is None:
        assert frames == []
        assert _find(page, NAV_TESTID) == []
        return
    (frame,) = frames
    heading, body = frame.children[1:]
    assert isinstance(heading, HEADING)
    assert str(heading.children[0].contents).strip('"') == route.settings.heading
    assert route.title == f"{route.settings.heading} · chatapp"  # the heading names the tab's page
    assert str(body) == str(route.component())  # the page's own body, inside the frame
    (back,) = _find(frame, "settings-back")
    assert [str(c.to) for c in _walk(back) if hasattr(c, "to")] == ['"/"']
    assert _find(frame, NAV_TESTID)
    # The body builds no frame of its own: no second back link, heading or nav.
    assert "Back to chats" not in str(body)
    assert NAV_TESTID not in str(body)


def test_a_settings_page_cannot_be_declared_without_its_navigation_entry() -> None:
    with pytest.raises(ValueError, match="settings"):
        Route("/settings/extra", "Extra · chatapp", rx.fragment, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="settings"):
        Route("/extra", "Extra · chatapp", rx.fragment, None,  # type: ignore[arg-type]
              SettingsEntry("Extra", "Extra"))
