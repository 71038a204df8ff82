"""Choosing among the media types of a body: JSON first, then form, then nothing."""

from __future__ import annotations

from typing import Any


def media_kind(media_type: str) -> str:
    """Return ``json``, ``form``, ``multipart`` or ``other`` for a media type."""
    base = media_type.split(";", 1)[0].strip().lower()
    if base in ("application/json", "*/*", "application/*") or base.endswith(("/json", "+json")):
        return "json"
    if base == "application/x-www-form-urlencoded":
        return "form"
    if base.startswith("multipart/"):
        return "multipart"
    return "other"


def pick_media(content: dict[str, Any], kinds: tuple[str, ...]) -> tuple[str, Any] | None:
    """Return the first ``(media type, media object)`` of the first kind in *kinds*, or None."""
    for kind in kinds:
        for media_type, media in content.items():
            if isinstance(media_type, str) and media_kind(media_type) == kind:
                return media_type, media
    return None
