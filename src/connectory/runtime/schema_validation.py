"""jsonschema validators, built when first needed.

jsonschema (with ``referencing`` and ``attrs``) costs about 50 ms and 10 MiB to import; most
calls never need it, because :mod:`connectory.runtime.fastcheck` settles the bodies that
match. It is imported here, the first time a body fails the quick check or a schema is one the
quick check does not cover.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator


def build_validator(schema: Mapping[str, Any]) -> Validator:
    """Return a validator for *schema* in the draft its ``$schema`` names (else 2020-12)."""
    from jsonschema import Draft202012Validator
    from jsonschema.validators import validator_for

    cls = validator_for(schema, default=Draft202012Validator)
    validator: Validator = cls(schema)
    return validator
