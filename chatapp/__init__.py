"""chatapp: a self-hostable multi-provider LLM chat app."""
