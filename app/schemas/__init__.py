"""Request and response bodies. Table models are never returned directly."""
