"""Provider adapters through the real SDKs over loopback HTTP."""
