"""Plain HTTP routes and middleware mounted on Reflex's ASGI app."""
