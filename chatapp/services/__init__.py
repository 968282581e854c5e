"""The domain: chat turns, threads, generation, titles, identity. No Reflex, no FastAPI."""
