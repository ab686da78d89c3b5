"""Errors minidl raises on purpose (shared by the engine and both dialects)."""

from __future__ import annotations

__all__ = ["NotSupportedYetError"]


class NotSupportedYetError(NotImplementedError, ValueError):
    """An option value the documented system accepts but minidl has not built yet (raised, never silently ignored)."""
