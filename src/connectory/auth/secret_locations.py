"""Where a connector puts its secrets: the headers, query parameters and body fields.

A template that reads a sensitive credential or connector parameter makes the place it renders
into secret: ``X-Pin: "{{ credentials.pin }}"`` makes the header ``X-Pin`` secret, whatever
the PIN's length. The runtime registers those names with the connection's redactor, so the
value is redacted by where it goes, not only by matching the value (which a short value
defeats).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from connectory.errors import TemplateError
from connectory.spec.connector import ConnectorSpec
from connectory.templating import find_references, has_template_syntax

#: The keys of each template root that hold secrets, e.g. ``{"credentials": {"pin"}}``.
SecretKeys = Mapping[str, frozenset[str]]


def secret_keys_of(spec: ConnectorSpec) -> dict[str, frozenset[str]]:
    """The sensitive credential fields and connector parameters of *spec*, by template root."""
    return {
        "credentials": frozenset(
            name for name, field in spec.auth.credential_schema.items() if field.is_sensitive
        ),
        "connector_parameters": frozenset(
            name for name, field in spec.parameters.items() if field.is_sensitive
        ),
    }


def reads_secret(template: str, keys: SecretKeys) -> bool:
    """True when *template* reads a secret (or a whole root that holds one)."""
    if not has_template_syntax(template):
        return False
    try:
        references = find_references(template)
    except TemplateError:
        return True  # it cannot be rendered anyway; err on the side of hiding
    for reference in references:
        secret = keys.get(reference.root)
        if secret and (reference.key is None or reference.key in secret):
            return True
    return False


def secret_locations(url: str, headers: Mapping[str, str], keys: SecretKeys) -> list[str]:
    """Names of the headers and URL query parameters whose templates read a secret.

    Args:
        url: A URL or path template (``base_url``, an operation's ``path``, a login URL).
        headers: Header name -> template.
        keys: The secret keys of each template root.
    """
    names = [name for name, template in headers.items() if reads_secret(template, keys)]
    _, sep, query = url.partition("?")
    if sep:
        for pair in query.split("&"):
            name, eq, value = pair.partition("=")
            if eq and name and reads_secret(value, keys):
                names.append(name)
    return names


def secret_body_fields(body: Any, keys: SecretKeys) -> Iterator[str]:
    """Names of the fields of a templated body (JSON object or form) that read a secret."""
    if isinstance(body, Mapping):
        for name, value in body.items():
            items = value if isinstance(value, list) else [value]
            if any(isinstance(item, str) and reads_secret(item, keys) for item in items):
                yield str(name)
            if not isinstance(value, str):
                yield from secret_body_fields(value, keys)
    elif isinstance(body, list):
        for item in body:
            yield from secret_body_fields(item, keys)
