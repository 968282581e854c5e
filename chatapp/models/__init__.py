"""SQLModel tables. Importing this package registers every table on SQLModel.metadata."""

from chatapp.models.billing import ApiKey, BudgetBucket, UsageRecord, UserSettings
from chatapp.models.message import ACTIVE_STATUSES, Message, MessageRole, MessageStatus
from chatapp.models.thread import Draft, Thread, Visibility
from chatapp.models.user import AuthSession, Identity, User

__all__ = [
    "ACTIVE_STATUSES", "ApiKey", "AuthSession", "BudgetBucket", "Draft", "Identity", "Message",
    "MessageRole", "MessageStatus", "Thread", "UsageRecord", "User", "UserSettings", "Visibility",
]
