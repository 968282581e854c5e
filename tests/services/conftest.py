"""Fixtures for service tests: two users in the per-test database."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from tests.services.helpers import make_user


@pytest.fixture
def user_id(session: Session) -> str:
    return make_user(session)


@pytest.fixture
def other_user_id(session: Session) -> str:
    return make_user(session)
