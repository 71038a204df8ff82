"""Fixtures of the events tests (the harness is in events_support.py, the bare store in
store_support.py)."""

from events_support import harness, receiver
from store_support import database_url, sessions

__all__ = ["database_url", "harness", "receiver", "sessions"]
