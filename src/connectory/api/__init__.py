"""The management API (FastAPI)."""

from connectory.api.app import create_app

__all__ = ["create_app"]
