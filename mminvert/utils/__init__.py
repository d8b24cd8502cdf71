"""Small shared helpers."""
from .plain import to_plain

__all__ = ["to_plain"]
