"""One message in the conversation: user bubble, assistant reply, error with Retry."""

from __future__ import annotations

import reflex as rx

from chatapp.components.markdown import live_markdown, markdown
from chatapp.state.composer import ComposerState, ModelMenuState
from chatapp.state.live import LiveState
from chatapp.state.thread import ThreadState
from chatapp.state.views import MessageView


def branch_navigator(msg: MessageView) -> rx.Component:
    """"‹ 2 / 3 ›" on a message with siblings: switches the branch on screen (stored)."""
    return rx.cond(
        msg.branch != "",
        rx.el.div(
            _action("chevron-left", "Previous version", "branch-previous",
                    disabled=msg.previous_branch_id == "",
                    on_click=ThreadState.switch_branch(msg.previous_branch_id)),
            rx.el.span(msg.branch, class_name="branch-position", data_testid="branch-position"),
            _action("chevron-right", "Next version", "branch-next",
                    disabled=msg.next_branch_id == "",
                    on_click=ThreadState.switch_branch(msg.next_branch_id)),
            class_name="branch-nav", data_testid="branch-nav",
        ),
    )


def _action(icon: str, label: str, testid: str, **props: object) -> rx.Component:
    """A message action: one plain button whose icon is drawn by CSS (`.act-<icon>` in
    assets/chat.css), with a native tooltip. Every message has four or five of these, so a
    page of 60 draws some 300: as Radix icon buttons with SVG icons they were half of what
    the browser spent rendering a page (bench/thread_bench.py)."""
    return rx.el.button(type="button", class_name=f"act act-{icon}", aria_label=label,
                        title=label, data_testid=testid, **props)


def copy_button(msg: MessageView) -> rx.Component:
    return _action("copy", "Copy as Markdown", "copy-button",
                   on_click=[rx.set_clipboard(msg.content),
                             rx.toast.success("Copied", duration=1500)])


def fork_button(msg: MessageView) -> rx.Component:
    return _action("git-branch-plus", "Branch off into a new chat", "fork-button",
                   on_click=ThreadState.fork(msg.id))


def edit_box(msg: MessageView) -> rx.Component:
    """A sent message, edited in place: saving makes a new branch and a new reply."""
    return rx.form(
        rx.el.input(type="hidden", name="message_id", value=msg.id),
        rx.el.textarea(name="message", default_value=msg.content, auto_focus=True, rows=3,
                       enter_key_submit=True, class_name="composer-input edit-input",
                       aria_label="Edit message", data_testid="edit-input"),
        rx.hstack(
            rx.spacer(),
            rx.button("Cancel", type="button", size="1", variant="soft", color_scheme="gray",
                      on_click=ThreadState.cancel_edit, data_testid="edit-cancel"),
            rx.button("Send", type="submit", size="1", data_testid="edit-save"),
        ),
        on_submit=ComposerState.edit_message, reset_on_submit=False,
        class_name="composer edit-box",
    )


def user_message(msg: MessageView) -> rx.Component:
    return rx.cond(
        msg.editing,
        rx.el.div(edit_box(msg), class_name="msg msg-user-edit", data_testid="user-message"),
        # Plain elements, not Radix boxes and texts: a page draws 60 of these.
        rx.el.div(
            rx.el.div(
                rx.el.p(msg.content, class_name="user-text"),
                class_name="msg msg-user",
            ),
            rx.el.div(
                branch_navigator(msg),
                _action("pencil", "Edit", "edit-button",
                        on_click=ThreadState.start_edit(msg.id)),
                copy_button(msg),
                fork_button(msg),
                class_name="msg-actions",
            ),
            class_name=rx.cond(msg.highlight, "msg-wrap user highlight", "msg-wrap user"),
            data_message_id=msg.id,
            data_testid="user-message",
        ),
    )


def typing_dots() -> rx.Component:
    return rx.hstack(
        rx.spinner(size="1"), rx.text("Thinking…", size="2", color_scheme="gray"),
        class_name="typing", data_testid="typing",
    )


def reply_error(msg: MessageView) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("triangle-alert")),
        rx.callout.text(msg.error),
        rx.cond(  # only where retrying as it is can help: not after a refused key
            msg.can_retry,
            rx.button(
                rx.icon("rotate-ccw", size=14), "Retry",
                size="1", variant="soft", on_click=ComposerState.retry(msg.id),
                justify_self="start",  # the callout is a grid: without this it spans the row
                data_testid="retry-button",
            ),
        ),
        color_scheme="red", size="1", class_name="reply-error", data_testid="reply-error",
    )


def regenerate_button(msg: MessageView) -> rx.Component:
    return rx.button(rx.icon("rotate-ccw", size=12), "Regenerate", size="1", variant="ghost",
                     on_click=ComposerState.retry(msg.id), data_testid="regenerate-button")


def regenerate_actions(msg: MessageView) -> rx.Component:
    """Regenerate with the composer's model, or pick another in the one shared dialog
    (`regenerate_dialog`): a menu per message would cost on every page drawn."""
    return rx.fragment(
        _action("refresh-cw", "Regenerate", "regenerate-same",
                on_click=ComposerState.retry(msg.id)),
        _action("sparkles", "Regenerate with another model", "regenerate-other",
                on_click=ModelMenuState.choose(msg.id)),
    )


def regenerate_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Regenerate with"),
            rx.vstack(
                rx.foreach(
                    ModelMenuState.choices,
                    lambda m: rx.button(m.label, variant="soft", width="100%",
                                        on_click=ComposerState.retry_with(
                                            ModelMenuState.target, m.id),
                                        data_testid="regenerate-with"),
                ),
                width="100%",
            ),
            rx.dialog.close(rx.button("Cancel", variant="ghost", margin_top="8px")),
            max_width="360px",
            data_testid="regenerate-dialog",
        ),
        open=ModelMenuState.target != "",
        on_open_change=ModelMenuState.closed,
    )


def live_reply() -> rx.Component:
    """The reply streaming in this tab: its text comes from its feed, not from the state
    (assets/markdown.js), so a batch costs the websocket nothing and redraws one block."""
    return rx.box(
        live_markdown(LiveState.message_id),
        # Same footer as a finished reply, so the page does not shift when it ends.
        rx.el.span(ComposerState.selected_model_label, class_name="model-label"),
        class_name="msg msg-assistant",
        data_testid="live-reply",
    )


def assistant_message(msg: MessageView) -> rx.Component:
    stored = rx.fragment(
        rx.cond(msg.content != "", markdown(msg.content)),
        rx.cond(
            msg.active,
            typing_dots(),
        ),
        rx.cond(msg.status == "error", reply_error(msg)),
        rx.cond(
            msg.status == "cancelled",
            rx.hstack(
                rx.badge("Stopped", color_scheme="gray", variant="soft"),
                regenerate_button(msg),
                class_name="reply-meta", data_testid="reply-stopped",
            ),
        ),
        rx.cond(
            msg.status == "interrupted",
            rx.hstack(
                rx.badge(rx.icon("unplug", size=12), "Interrupted", color_scheme="amber",
                         variant="soft"),
                rx.text(msg.error, size="1", color_scheme="gray"),
                regenerate_button(msg),
                class_name="reply-meta", data_testid="reply-interrupted",
            ),
        ),
    )
    # A reply streaming in this tab is drawn by live_reply() below the list, so the
    # list itself does not re-render on every flush.
    return rx.cond(
        msg.live,
        rx.fragment(),
        rx.el.div(
            stored,
            rx.el.div(
                rx.el.span(msg.model_label, class_name="model-label"),
                rx.cond(
                    ~msg.active,
                    rx.el.div(branch_navigator(msg), copy_button(msg), regenerate_actions(msg),
                              fork_button(msg), class_name="msg-actions"),
                ),
                class_name="msg-footer",
            ),
            rx.cond(
                msg.stats != "",
                rx.el.p(msg.stats, class_name="reply-stats", data_testid="reply-stats"),
            ),
            class_name=rx.cond(msg.highlight, "msg msg-assistant highlight",
                               "msg msg-assistant"),
            data_testid="assistant-message",
            data_status=msg.status,
            data_message_id=msg.id,
        ),
    )


def message(msg: MessageView) -> rx.Component:
    return rx.cond(msg.role == "user", user_message(msg), assistant_message(msg))
