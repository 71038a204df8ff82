"""``import-openapi --into``: re-import a newer description into a connector file or folder.

A connector folder keeps the description it was imported from beside ``connector.yaml``
(``openapi.json`` or ``openapi.yaml``, as the server keeps one with each version): a
re-import shows how the new description drifted from it (operations, component schemas,
security schemes, servers, ``info.version``), and ``--apply`` replaces it with the new one.

Writing into a folder keeps its layout: sections in their own files (``auth.yaml``,
``resilience.yaml``) are left as they are (a re-import keeps the connector's auth and
resilience), operations go to ``operations/<name>.yaml`` when the folder holds its operations
there (replacing the files read) and into ``connector.yaml`` otherwise; hooks and methods are
not touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectory.errors import InputError

#: The names a folder's kept description may have (the server's export names).
KEPT_NAMES = ("openapi.json", "openapi.yaml", "openapi.yml")
_SECTION_FILES = ("auth", "resilience")
_SUFFIXES = (".yaml", ".yml", ".json")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class IntoTarget:
    """The connector a re-import goes into.

    Attributes:
        path: The connector file, or the folder.
        data: The connector as read (a folder's files merged).
        kept: The description kept with it (a folder's ``openapi.*``), if any.
    """

    path: Path
    data: dict[str, Any]
    kept: Path | None = None

    @property
    def is_folder(self) -> bool:
        """True for a connector folder."""
        return self.path.is_dir()


def read_target(path: Path) -> IntoTarget:
    """Read the connector at *path* (a file or a folder) and find its kept description.

    Raises:
        InputError: it is not a connector, or a folder keeps two descriptions.
        SpecError: a file of it cannot be read.
    """
    from connectory.spec.loader import read_connector_data

    data = read_connector_data(path)
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a connector (a mapping of fields)")
    target = IntoTarget(path, data)
    if target.is_folder:
        found = [path / name for name in KEPT_NAMES if (path / name).is_file()]
        if len(found) > 1:
            raise InputError(
                f"{path} keeps two descriptions ({', '.join(p.name for p in found)}); keep one"
            )
        target.kept = found[0] if found else None
    return target


def kept_name(raw: bytes) -> str:
    """The file name a description is kept under: JSON text as openapi.json, else YAML."""
    from connectory.services.openapi_descriptions import media_type_of

    return "openapi.json" if media_type_of(raw) == "application/json" else "openapi.yaml"


def write_folder(folder: Path, document: dict[str, Any], description: bytes | None) -> None:
    """Write a re-imported *document* into the connector *folder*, keeping its layout.

    *description*, when given, replaces the description the folder keeps.
    """
    from connectory.openapi.yaml_text import dump_connector_yaml

    main = _main_file(folder)
    inline = dict(document)
    for section in _SECTION_FILES:
        if any((folder / f"{section}{suffix}").is_file() for suffix in _SUFFIXES):
            inline.pop(section, None)  # kept in its own file, which a re-import does not change
    operations_dir = folder / "operations"
    if operations_dir.is_dir():
        operations = inline.pop("operations", [])
        for old in operations_dir.iterdir():
            if old.is_file() and old.suffix.lower() in _SUFFIXES:
                old.unlink()
        for operation in operations:
            name = _UNSAFE.sub("_", str(operation.get("name", "operation"))) or "operation"
            (operations_dir / f"{name}.yaml").write_text(
                dump_connector_yaml(operation), encoding="utf-8"
            )
    if main.suffix == ".json":
        import json

        main.write_text(json.dumps(inline, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        main.write_text(dump_connector_yaml(inline), encoding="utf-8")
    if description is not None:
        keep_description(folder, description)


def keep_description(folder: Path, description: bytes) -> Path:
    """Keep *description* in *folder* (replacing any other kept one); return its path."""
    target = folder / kept_name(description)
    for name in KEPT_NAMES:
        other = folder / name
        if other != target and other.is_file():
            other.unlink()
    target.write_bytes(description)
    return target


def _main_file(folder: Path) -> Path:
    for suffix in _SUFFIXES:
        if (folder / f"connector{suffix}").is_file():
            return folder / f"connector{suffix}"
    return folder / "connector.yaml"
