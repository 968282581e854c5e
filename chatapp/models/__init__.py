"""SQLModel tables. Importing this package registers every table on SQLModel.metadata."""

from chatapp.models.message import Message, MessageRole, MessageStatus
from chatapp.models.thread import Thread
from chatapp.models.user import AuthSession, Identity, User

__all__ = ["AuthSession", "Identity", "Message", "MessageRole", "MessageStatus", "Thread", "User"]
