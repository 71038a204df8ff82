"""Shared base for every connector spec model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SpecModel(BaseModel):
    """Base of the connector format's models: unknown fields are errors, names are as written."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        str_strip_whitespace=False,
        validate_default=False,
        use_enum_values=True,
    )
