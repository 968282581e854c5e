"""Model providers behind one async streaming contract (no database, no Reflex)."""
