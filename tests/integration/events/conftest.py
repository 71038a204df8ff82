"""Fixtures of the events tests (the harness itself is in events_support.py)."""

from events_support import harness, receiver

__all__ = ["harness", "receiver"]
