"""Input fields: the credential schema of an auth block and the connector's own parameters.

Both drive a form (the connect form, the connector parameters form) and both hold values that
may be secret. A field is sensitive when it says so, and always when its type is ``password``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from connectory.spec.base import SpecModel
from connectory.spec.values import coerce_value

FieldType = Literal["string", "password", "number", "integer", "boolean"]


class InputFieldSpec(SpecModel):
    """One field of a ``credential_schema`` or of the connector's ``parameters``.

    Example (from the seed)::

        api_key:
          label: "API Key"
          type: password
          required: true
          sensitive: true
          help: "Get your API key from your OpenWeatherMap account settings"
    """

    label: str | None = Field(default=None, description="What the user sees in the form.")
    type: FieldType = Field(
        default="string",
        description="string, or password for masked input; number, integer, boolean.",
    )
    required: bool = Field(default=False, description="Whether the user must provide a value.")
    sensitive: bool | None = Field(
        default=None,
        description="Encrypted at rest and never shown again; true by default for passwords.",
    )
    help: str | None = Field(default=None, description="Instructions shown under the field.")
    default: str | int | float | bool | None = Field(
        default=None, description="Value used when the user leaves the field empty."
    )
    enum: list[str | int | float | bool] | None = Field(
        default=None, description="The only values allowed, shown as a choice."
    )

    @model_validator(mode="after")
    def _password_fields_are_sensitive(self) -> InputFieldSpec:
        if self.sensitive is None:
            self.sensitive = self.type == "password"
        return self

    @property
    def is_sensitive(self) -> bool:
        """True when the value must be encrypted at rest and never shown back."""
        return bool(self.sensitive) or self.type == "password"

    def display_label(self, name: str) -> str:
        """Return the label, or a readable form of the field name when no label is set."""
        return self.label or name.replace("_", " ").capitalize()

    def coerce(self, value: Any) -> Any:
        """Return *value* converted to this field's type; raise ValueError if it cannot be."""
        try:
            return coerce_value(self.type, value)
        except TypeError:
            raise ValueError(f"expected {self.type}") from None
