"""jsonschema validators, built when first needed, with the connector's shared schemas.

jsonschema (with ``referencing`` and ``attrs``) costs about 50 ms and 10 MiB to import; most
calls never need it, because :mod:`connectory.runtime.fastcheck` settles the bodies that
match. It is imported here, the first time a body fails the quick check or a schema is one the
quick check does not cover.

Shared schemas (the connector's ``schemas`` section, see
:mod:`connectory.spec.shared_schemas`) are compiled once per connector into a
:class:`SchemaRegistry`: each becomes a ``referencing`` resource at
``urn:connectory:schemas:<Name>``, and every schema that refers to them is rewritten once, when
its validator is built, so ``#/schemas/Name`` resolves there. Every validator gets a registry,
even an empty one: without it jsonschema would download a ``$ref`` that names a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from connectory.spec.shared_schemas import has_shared_refs, rewrite_refs

if TYPE_CHECKING:
    from jsonschema.protocols import Validator
    from referencing import Registry

    from connectory.spec.connector import ConnectorSpec

#: Where the shared schemas live in the registry.
SHARED_URN = "urn:connectory:schemas:"


class SchemaRegistry:
    """A connector's shared schemas, compiled once and shared by all its validators.

    Building it costs nothing: the ``referencing`` registry is made the first time a
    validator is built, and jsonschema resolves (and caches) each shared schema the first time
    a body reaches it, so a connector with hundreds of shared schemas pays only for those its
    bodies use.
    """

    def __init__(self, schemas: Mapping[str, Any] | None = None) -> None:
        self._schemas = dict(schemas or {})
        self._registry: Registry[Any] | None = None

    @property
    def names(self) -> list[str]:
        """The names of the shared schemas."""
        return list(self._schemas)

    def registry(self) -> Registry[Any]:
        """The ``referencing`` registry holding every shared schema (built once)."""
        if self._registry is None:
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT202012

            resources = [
                (
                    SHARED_URN + name,
                    Resource.from_contents(
                        rewrite_refs(schema, SHARED_URN, pointer_sep="#/"),
                        default_specification=DRAFT202012,
                    ),
                )
                for name, schema in self._schemas.items()
            ]
            self._registry = Registry().with_resources(resources)
        return self._registry

    def validator(self, schema: Mapping[str, Any]) -> Validator:
        """Return a validator for *schema* that resolves ``#/schemas/...`` references here."""
        from jsonschema import Draft202012Validator
        from jsonschema.validators import validator_for

        cls = validator_for(schema, default=Draft202012Validator)
        if has_shared_refs(schema):
            schema = rewrite_refs(schema, SHARED_URN, pointer_sep="#/")
        validator: Validator = cls(schema, registry=self.registry())
        return validator


def schema_registry_for(spec: ConnectorSpec) -> SchemaRegistry:
    """Return the connector's registry, made once per spec object (not per client or call)."""
    cached = spec.runtime_cache.get("schema_registry")
    if not isinstance(cached, SchemaRegistry):
        cached = spec.runtime_cache["schema_registry"] = SchemaRegistry(spec.schemas)
    return cached


def build_validator(schema: Mapping[str, Any], registry: SchemaRegistry | None = None) -> Validator:
    """Return a validator for *schema* in the draft its ``$schema`` names (else 2020-12).

    Args:
        schema: The schema.
        registry: The connector's shared schemas; without one, only references inside
            *schema* itself resolve.
    """
    return (registry or SchemaRegistry()).validator(schema)
