"""The bounded value types of request bodies and paths: every string has a documented limit.

Credentials, connector parameters and connection config are small maps of short values;
operation parameters may carry a request body's worth of text. The limits are part of each
field's JSON Schema, so ``/openapi.json`` states them, and a value over a limit is a ``422``
that names the value, before anything is stored, encrypted or sent upstream.

The values are checked by one walk (:func:`_check_json`) rather than by a pydantic union per
value, so a refusal says what is wrong ("is 9,000,000 characters long; the limit is 16,384")
instead of listing every type the value is not.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator, Field, PlainValidator, RootModel, StringConstraints

#: Longest credential, connector parameter or config text (a PEM private key, a service
#: account's JSON key or a long refresh token fits many times over).
MAX_VALUE_CHARS = 16_384
#: Longest text in an operation's parameters (a request body's worth; the body cap still holds).
MAX_PARAMETER_CHARS = 1_048_576
#: Longest field name in any of these maps.
MAX_KEY_CHARS = 200
#: Deepest nesting of config and operation parameters (as deep as a connector document).
MAX_VALUE_DEPTH = 64
#: Longest id in a path (ids are 32 hex characters).
MAX_ID_CHARS = 64
#: Longest operation name in a path.
MAX_OPERATION_CHARS = 200

#: A field name: 1 to 200 characters.
Key = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_CHARS)]
_ValueText = Annotated[str, StringConstraints(max_length=MAX_VALUE_CHARS)]
_ParameterText = Annotated[str, StringConstraints(max_length=MAX_PARAMETER_CHARS)]

# The JSON Schemas of the values (what /openapi.json shows); validation is _check_json's, so
# these models only describe (their docstrings are the schemas' descriptions).
_Scalar = _ValueText | int | float | bool | None


class ConfigValue(
    RootModel[
        _ValueText | int | float | bool | list["ConfigValue"] | dict[Key, "ConfigValue"] | None
    ]
):
    """Any JSON value; texts are at most 16,384 characters."""


class ParameterValue(
    RootModel[
        _ParameterText
        | int
        | float
        | bool
        | list["ParameterValue"]
        | dict[Key, "ParameterValue"]
        | None
    ]
):
    """Any JSON value; texts are at most 1,048,576 characters."""


def _check_json(value: Any, *, max_chars: int, max_depth: int, nested: bool) -> Any:
    """Return *value* if it is JSON within the limits, else raise ValueError saying where."""
    pending: list[tuple[Any, str, int]] = [(value, "", 1)]
    while pending:
        item, where, depth = pending.pop()
        at = f" at {where}" if where else ""
        if isinstance(item, str):
            if len(item) > max_chars:
                raise ValueError(
                    f"the text{at} is {len(item):,} characters long; the limit is {max_chars:,}"
                )
        elif isinstance(item, bool | int | float) or item is None:
            continue
        elif nested and isinstance(item, dict | list):
            if depth > max_depth:
                raise ValueError(f"nests deeper than {max_depth} levels")
            if isinstance(item, list):
                pending.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))
                continue
            for key, child in item.items():
                if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS:
                    raise ValueError(
                        f"a field name{at} is empty or over {MAX_KEY_CHARS} characters"
                    )
                pending.append((child, f"{where}.{key}" if where else key, depth + 1))
        else:
            kinds = (
                "text, a number, true, false, null, a list or an object"
                if nested
                else ("text, a number, true, false or null")
            )
            raise ValueError(f"the value{at} must be {kinds}")
    return value


def _scalar(value: Any) -> Any:
    return _check_json(value, max_chars=MAX_VALUE_CHARS, max_depth=1, nested=False)


def _config(value: Any) -> Any:
    return _check_json(value, max_chars=MAX_VALUE_CHARS, max_depth=MAX_VALUE_DEPTH, nested=True)


def _parameter(value: Any) -> Any:
    return _check_json(value, max_chars=MAX_PARAMETER_CHARS, max_depth=MAX_VALUE_DEPTH, nested=True)


#: A credential or connector parameter value: text (up to 16,384 characters), number, boolean.
ScalarValue = Annotated[Any, PlainValidator(_scalar, json_schema_input_type=_Scalar)]
#: Credentials and connector parameters: a map of scalars.
Values = dict[Key, ScalarValue]

#: Connection config: up to 100 fields, texts up to 16,384 characters, nested up to 64 levels.
ConfigObject = Annotated[
    dict[Key, Annotated[Any, PlainValidator(_config, json_schema_input_type=ConfigValue)]],
    Field(
        max_length=100,
        description=f"Up to 100 fields; texts up to {MAX_VALUE_CHARS:,} characters; nested up "
        f"to {MAX_VALUE_DEPTH} levels.",
    ),
]


#: A JSON value whose texts are at most 1 MiB, nested at most 64 levels.
JsonParameter = Annotated[Any, PlainValidator(_parameter, json_schema_input_type=ParameterValue)]


def describe_json_object(what: str, max_fields: int) -> str:
    """The description of a map of :data:`JsonParameter` values, with its limits."""
    return (
        f"Up to {max_fields} {what}; texts up to {MAX_PARAMETER_CHARS:,} characters; nested up "
        f"to {MAX_VALUE_DEPTH} levels."
    )


#: Operation parameters: up to 200, texts up to 1 MiB, nested up to 64 levels.
ParameterObject = Annotated[
    dict[Key, JsonParameter],
    Field(max_length=200, description=describe_json_object("parameters", 200)),
]


def _whole_number(value: Any) -> Any:
    # JSON Schema's "integer" includes 1.0; request models are strict, so say it here.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: Makes a strict ``int`` field an integer as JSON Schema means it: 3 and 3.0, never true or
#: "3". Put it after the field's constraints (``Annotated[int, Field(ge=1), WHOLE_NUMBER]``):
#: before them, pydantic writes the constraints into the JSON Schema as ``ge``/``le``.
WHOLE_NUMBER = BeforeValidator(_whole_number)

# Path values: the schema states how long a real one can be, and a longer one is answered like
# any id that does not exist (404), never told apart from it (ids are not probed by length).
#: An object id in a path (unknown or foreign ids answer 404).
IdPath = Annotated[
    str,
    Path(
        description=f"An id (at most {MAX_ID_CHARS} characters; others are not found).",
        json_schema_extra={"maxLength": MAX_ID_CHARS},
    ),
]
#: An operation name in a path.
OperationPath = Annotated[
    str,
    Path(
        description=f"An operation name (at most {MAX_OPERATION_CHARS} characters).",
        json_schema_extra={"maxLength": MAX_OPERATION_CHARS},
    ),
]
#: A collection's key in a path.
CollectionPath = Annotated[
    str,
    Path(
        description=f"A collection key (at most {MAX_OPERATION_CHARS} characters).",
        json_schema_extra={"maxLength": MAX_OPERATION_CHARS},
    ),
]
#: A record id in a path: the upstream's own id, passed on to it.
MAX_RECORD_ID_CHARS = 1000
RecordIdPath = Annotated[str, Path(min_length=1, max_length=MAX_RECORD_ID_CHARS)]
#: A version in a path: 1.2.0, latest, draft or a version id.
VersionPath = Annotated[
    str,
    Path(
        description=f"1.2.0, latest, draft or a version id (at most {MAX_ID_CHARS} characters).",
        json_schema_extra={"maxLength": MAX_ID_CHARS},
    ),
]
