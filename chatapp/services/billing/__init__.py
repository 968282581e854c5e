"""Paying for requests: allowances per tier, admission and settling, usage records."""
