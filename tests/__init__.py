"""chatapp tests."""
