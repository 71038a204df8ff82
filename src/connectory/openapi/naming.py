"""Operation names: ``operationId`` in snake_case, or method and path; unique within a connector."""

from __future__ import annotations

import re
import unicodedata

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_OTHER = re.compile(r"[^A-Za-z0-9]+")
_PLACEHOLDER = re.compile(r"^\{(.+)\}$")
_MAX_LENGTH = 100


def snake_case(text: str) -> str:
    """Return *text* in snake_case.

    ``getPetById`` -> ``get_pet_by_id``, ``repos/list-for-org`` -> ``repos_list_for_org``,
    ``HTTPStatus`` -> ``http_status``.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    spaced = _ACRONYM.sub(r"\1_\2", _CAMEL.sub(r"\1_\2", ascii_text))
    name = _OTHER.sub("_", spaced).strip("_").lower()
    name = re.sub(r"_+", "_", name)[:_MAX_LENGTH].rstrip("_")
    if name and name[0].isdigit():
        name = f"op_{name}"
    return name


def name_from_path(method: str, path: str) -> str:
    """Return a name for an operation without ``operationId``: ``get_pets_by_id``."""
    words = [method.lower()]
    for segment in path.split("/"):
        if not segment:
            continue
        placeholder = _PLACEHOLDER.match(segment)
        words.append(f"by_{placeholder.group(1)}" if placeholder else segment)
    return snake_case("_".join(words)) or method.lower()


class UniqueNames:
    """Hands out names, adding ``_2``, ``_3``... to one already given."""

    def __init__(self) -> None:
        self._given: set[str] = set()

    def take(self, wanted: str) -> str:
        """Return *wanted*, or *wanted* with the smallest free suffix."""
        name, counter = wanted, 2
        while name in self._given:
            name, counter = f"{wanted}_{counter}", counter + 1
        self._given.add(name)
        return name
