"""Conversations: threads and their message tree, turns, replies written under a lease, titles."""
