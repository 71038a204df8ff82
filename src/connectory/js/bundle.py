"""The code of one connector version, transformed once and shared by its engine instances."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from connectory.js.module import ModuleSource, transform_module
from connectory.spec.code import CodeRefSpec
from connectory.spec.connector import ConnectorSpec


@dataclass(frozen=True)
class CodeBundle:
    """The modules a connector references, ready to load into an engine instance.

    Attributes:
        key: Identifies the code: instances are pooled per (tenant, key), so a changed draft
            gets fresh instances and two versions never share one.
        modules: The referenced files, transformed, by path.
        missing: Referenced files that do not exist.
    """

    key: str
    modules: dict[str, ModuleSource] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()

    def export_line(self, ref: CodeRefSpec) -> tuple[int | None, int | None]:
        """Line and column of *ref*'s export, when the file declares it."""
        module = self.modules.get(ref.file)
        export = module.exports.get(ref.export) if module is not None else None
        return (export.line, export.column) if export is not None else (1 if module else None, 1)


def build_bundle(spec: ConnectorSpec) -> CodeBundle:
    """Transform the code files attached to *spec* (:attr:`~ConnectorSpec.code_files`).

    Every code file is loaded, referenced or not: collections and events run methods the
    operations do not name.
    """
    files = spec.code_files
    digest = hashlib.sha256(f"{spec.slug}\0{spec.version or 'draft'}".encode())
    modules: dict[str, ModuleSource] = {}
    for path in sorted(files):
        digest.update(f"\0{path}\0".encode())
        digest.update(files[path].encode("utf-8", "surrogatepass"))
        modules[path] = transform_module(path, files[path])
    missing = {ref.file for _, ref in spec.code_refs() if ref.file not in files}
    return CodeBundle(digest.hexdigest()[:32], modules, frozenset(missing))
