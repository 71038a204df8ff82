"""Reading converted schemas for what a parameter or a body needs: type, enum, properties.

The connector's parameters are flat (a type, an enum, a default), so a schema made of
references and ``allOf`` parts is looked through: references are followed into the converted
definitions and ``allOf`` parts merged; ``anyOf`` / ``oneOf`` with one non-null branch read as
that branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectory.openapi.schemas import Direction, SchemaConverter

#: Parameter types of the connector format.
PARAMETER_TYPES = ("string", "number", "integer", "boolean", "array", "object")
_MAX_DEPTH = 16
_NO_DEFAULT: Any = object()


@dataclass
class ValueShape:
    """What a parameter can say about a schema.

    Attributes:
        type: One of :data:`PARAMETER_TYPES`.
        enum: The allowed values (null left out), if the schema lists them.
        default: The default, or :data:`NO_DEFAULT`.
        description: The schema's description, if any.
        items: The converted schema of the items, for arrays.
        examples: Example values the schema gives.
        several_types: The schema accepts values of several types (only ``type`` is kept).
    """

    type: str = "string"
    enum: list[Any] | None = None
    default: Any = _NO_DEFAULT
    description: str | None = None
    items: Any = None
    examples: list[Any] = field(default_factory=list)
    several_types: bool = False


@dataclass
class ObjectShape:
    """The properties of an object schema (``allOf`` merged, alternatives combined).

    Attributes:
        properties: Converted schema of each property.
        required: Properties that must be present (in every alternative).
        open: Properties beyond those listed are allowed and none are listed.
    """

    properties: dict[str, Any] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    open: bool = False


NO_DEFAULT: Any = _NO_DEFAULT


class ShapeReader:
    """Reads shapes from converted schemas, following their references to shared schemas.

    Args:
        converter: The converter that produced the schemas.
        direction: ``request`` or ``response`` (which converted definitions to follow).
    """

    def __init__(self, converter: SchemaConverter, direction: Direction) -> None:
        self._converter = converter
        self._direction = direction

    def value(self, schema: Any) -> ValueShape:
        """Return the flat shape of *schema*."""
        shape = ValueShape()
        types: list[str] = []
        self._collect(schema, shape, types, 0)
        concrete = [kind for kind in dict.fromkeys(types) if kind != "null"]
        if "integer" in concrete and "number" in concrete:
            concrete.remove("integer")
        shape.several_types = shape.several_types or len(concrete) > 1
        shape.type = concrete[0] if concrete and concrete[0] in PARAMETER_TYPES else shape.type
        if not concrete:
            shape.type = _infer_type(shape)
        return shape

    def object(self, schema: Any) -> ObjectShape | None:
        """Return the properties of *schema*, or None when it is not an object schema."""
        return self._object(schema, 0)

    def resolve(self, schema: Any) -> Any:
        """Follow ``$ref`` to the converted definition (a few steps at most)."""
        for _ in range(_MAX_DEPTH):
            if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
                break
            schema = self._converter.definition(schema, self._direction)
        return schema

    def _collect(self, schema: Any, shape: ValueShape, types: list[str], depth: int) -> None:
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return
        kind = schema.get("type")
        if isinstance(kind, str):
            types.append(kind)
        elif isinstance(kind, list):
            types.extend(item for item in kind if isinstance(item, str))
        elif "properties" in schema or "additionalProperties" in schema:
            types.append("object")
        elif "items" in schema or "prefixItems" in schema:
            types.append("array")
        if shape.enum is None and isinstance(schema.get("enum"), list):
            shape.enum = [value for value in schema["enum"] if value is not None]
        elif shape.enum is None and "const" in schema and schema["const"] is not None:
            shape.enum = [schema["const"]]
        if shape.default is _NO_DEFAULT and "default" in schema:
            shape.default = schema["default"]
        if shape.description is None and isinstance(schema.get("description"), str):
            shape.description = schema["description"]
        if shape.items is None and "items" in schema:
            shape.items = schema["items"]
        if isinstance(schema.get("examples"), list):
            shape.examples.extend(schema["examples"])
        for part in _list(schema.get("allOf")):
            self._collect(part, shape, types, depth + 1)
        branches = [*_list(schema.get("anyOf")), *_list(schema.get("oneOf"))]
        real = [branch for branch in branches if not _is_null(self.resolve(branch))]
        if len(real) == 1:
            self._collect(real[0], shape, types, depth + 1)
        elif real:
            branch_types: list[str] = []
            for branch in real:
                self._collect(branch, shape, branch_types, depth + 1)
            if len(set(branch_types) - {"null"}) > 1:
                shape.several_types = True
            types.extend(branch_types)

    def _object(self, schema: Any, depth: int) -> ObjectShape | None:
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if kind is not None and "object" not in kinds:
            return None
        shape = ObjectShape()
        found = kind is not None or "properties" in schema
        properties = schema.get("properties")
        if isinstance(properties, dict):
            shape.properties.update(properties)
        required = schema.get("required")
        if isinstance(required, list):
            shape.required += [name for name in required if isinstance(name, str)]
        for part in _list(schema.get("allOf")):
            inner = self._object(part, depth + 1)
            if inner is not None:
                found = True
                for name, child in inner.properties.items():
                    shape.properties.setdefault(name, child)
                shape.required += inner.required
        branches = [*_list(schema.get("anyOf")), *_list(schema.get("oneOf"))]
        shapes = [self._object(branch, depth + 1) for branch in branches]
        alternatives = [inner for inner in shapes if inner is not None]
        if alternatives:
            found = True
            for inner in alternatives:
                for name, child in inner.properties.items():
                    shape.properties.setdefault(name, child)
            # Only what every alternative requires is required whichever one is sent.
            common = set.intersection(*(set(inner.required) for inner in alternatives))
            shape.required += [name for name in alternatives[0].required if name in common]
        if not found:
            return None
        shape.required = list(dict.fromkeys(name for name in shape.required))
        extra = schema.get("additionalProperties", True)
        shape.open = not shape.properties and extra is not False
        return shape


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _infer_type(shape: ValueShape) -> str:
    samples = [*(shape.enum or []), *([] if shape.default is _NO_DEFAULT else [shape.default])]
    for sample in samples:
        if isinstance(sample, bool):
            return "boolean"
        if isinstance(sample, int):
            return "integer"
        if isinstance(sample, float):
            return "number"
        if isinstance(sample, list):
            return "array"
        if isinstance(sample, dict):
            return "object"
        if isinstance(sample, str):
            return "string"
    return "array" if shape.items is not None else "string"
