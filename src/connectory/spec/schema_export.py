"""The JSON Schema of the connector format, exported from the models (never written by hand).

Editors (the YAML language server, VS Code) and the web builder use it for completion and
inline errors. It describes a single-file connector, or a folder's files once assembled.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import AliasChoices, BaseModel

from connectory.spec.connector import ConnectorSpec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://connectory.dev/schemas/connector.schema.json"


def connector_json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of a connector file.

    Fields that accept several names (an operation is named by ``operation:`` or ``name:``) list
    every name, and exactly one of them must be written, as the loader requires.
    """
    schema = ConnectorSpec.model_json_schema(mode="validation")
    definitions = schema.get("$defs", {})
    for model in _reachable_models(ConnectorSpec):
        target = definitions.get(model.__name__, schema if model is ConnectorSpec else None)
        if target is not None:
            _add_alias_choices(model, target)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        **schema,
        "title": "Connectory connector",
    }


def _add_alias_choices(model: type[BaseModel], target: dict[str, Any]) -> None:
    properties: dict[str, Any] = target.get("properties", {})
    required: list[str] = target.get("required", [])
    for name, info in model.model_fields.items():
        if not isinstance(info.validation_alias, AliasChoices):
            continue
        choices = [c for c in info.validation_alias.choices if isinstance(c, str)]
        primary = next((choice for choice in choices if choice in properties), name)
        for choice in choices:
            properties.setdefault(choice, properties.get(primary, {}))
        if primary in required:
            required.remove(primary)
            target.setdefault("allOf", []).append(
                {"oneOf": [{"required": [choice]} for choice in choices]}
            )
        else:
            target.setdefault("allOf", []).append({"not": {"required": choices[:2]}})
    if not required:
        target.pop("required", None)


def _reachable_models(root: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    pending: list[Any] = [root]
    while pending:
        annotation = pending.pop()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in found:
                continue
            found.append(annotation)
            pending.extend(info.annotation for info in annotation.model_fields.values())
        else:
            pending.extend(typing.get_args(annotation))
    return found
