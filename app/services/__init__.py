"""Use-cases and rules. No FastAPI here: services see data, not HTTP."""
