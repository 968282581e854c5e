"""State tests run the real event processor over the isolation suite's world of two users."""

from tests.isolation.conftest import app_settings, wire, world  # noqa: F401  (fixtures)
