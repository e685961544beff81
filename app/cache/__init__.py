"""Key-value store: Redis when configured, process memory otherwise, one interface."""

from app.cache.base import Store
from app.cache.memory import MemoryStore

__all__ = ["MemoryStore", "Store"]
