"""Connector folders from uploads: safe extraction of .zip and .tar(.gz) archives.

An uploaded archive comes from a client and is treated as hostile. Nothing is extracted with
the archive libraries' own ``extract*``: every member is checked first, then written by this
module into a fresh temporary folder, so that:

* paths are relative, without ``..``, drive letters, backslashes or control characters;
* members are regular files or folders (no symlinks, hard links, devices or FIFOs);
* the number of members, each file's size and the total size are capped, and the bytes are
  counted while they are decompressed, so a zip or gzip bomb stops at the cap whatever its
  headers claim;
* a name appears once.

The folder is then read with the spec loader, exactly as ``connectory validate`` reads one.
"""

from __future__ import annotations

import io
import re
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from connectory.errors import InvalidRequest, Problem, SpecError
from connectory.services.connector_documents import (
    FILE_FOLDERS,
    ConnectorSource,
    check_report,
    check_text,
)
from connectory.spec import check_connector
from connectory.spec.source import decode_text

ArchiveKind = Literal["zip", "tar", "tar.gz"]
UploadKind = Literal["zip", "tar", "tar.gz", "yaml", "json"]

_MAIN_FILES = ("connector.yaml", "connector.yml", "connector.json")
_CONNECTOR_FILE = re.compile(
    r"^((connector|auth|resilience)\.(yaml|yml|json)|operations/[^/]+\.(yaml|yml|json))$",
    re.IGNORECASE,
)
_SKIPPED = re.compile(r"(^|/)(__MACOSX|\.DS_Store|\._[^/]*|Thumbs\.db)(/|$)")
_CONTENT_TYPES: dict[str, UploadKind] = {
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/x-tar": "tar",
    "application/gzip": "tar.gz",
    "application/x-gzip": "tar.gz",
    "application/x-compressed-tar": "tar.gz",
    "application/json": "json",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "text/x-yaml": "yaml",
}


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on an uploaded archive."""

    max_members: int = 500
    max_file_bytes: int = 2 * 1024 * 1024
    max_total_bytes: int = 10 * 1024 * 1024
    max_depth: int = 8


class ArchiveRefused(InvalidRequest):
    """The upload is not an archive Connectory will open (a 422 naming the member at fault)."""

    def __init__(self, message: str, member: str | None = None) -> None:
        shown = member[:200] if member else None
        text = f"{message}: {shown}" if shown else message
        super().__init__(
            f"the archive was refused: {text}", problems=[Problem(message, file=shown)]
        )


def detect_kind(raw: bytes, content_type: str | None = None) -> UploadKind:
    """Tell what an upload is, from its first bytes, else its Content-Type, else YAML.

    The bytes win over the header: a client that labels a zip ``text/yaml`` still gets the
    zip read, and a file that is not an archive is never handed to an archive reader.
    """
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"PK\x05\x06"):
        return "zip"
    if raw.startswith(b"\x1f\x8b"):
        return "tar.gz"
    if len(raw) > 262 and raw[257:262] == b"ustar":
        return "tar"
    declared = (content_type or "").split(";")[0].strip().lower()
    kind = _CONTENT_TYPES.get(declared)
    if kind in ("zip", "tar", "tar.gz"):
        raise ArchiveRefused(f"the body is labelled {declared} but is not such an archive")
    if kind is not None:
        return kind
    return "json" if raw.lstrip()[:1] in (b"{", b"[") else "yaml"


def load_upload(
    raw: bytes, content_type: str | None = None, limits: ArchiveLimits | None = None
) -> ConnectorSource:
    """Check an uploaded connector: YAML or JSON text, or a folder archive.

    Raises:
        ArchiveRefused: the archive is hostile or unusable.
        SpecError: a text upload is not UTF-8 text.
    """
    kind = detect_kind(raw, content_type)
    if kind == "yaml" or kind == "json":
        filename = f"connector.{kind}"
        return check_text(decode_text(raw, file=filename), filename)
    with tempfile.TemporaryDirectory(prefix="connectory-upload-") as folder:
        root = Path(folder)
        extract_archive(raw, kind, root, limits or ArchiveLimits())
        return load_folder(find_connector_root(root))


def extract_archive(raw: bytes, kind: ArchiveKind, dest: Path, limits: ArchiveLimits) -> None:
    """Check every member of the archive *raw* and write the files into the folder *dest*.

    Raises:
        ArchiveRefused: a member is unsafe, or a limit is passed.
    """
    budget = _Budget(limits)
    members = _zip_members(raw, budget) if kind == "zip" else _tar_members(raw, kind, budget)
    seen: set[str] = set()
    for name, is_dir, stream in members:
        relative = _safe_path(name, limits.max_depth)
        if relative is None:  # system clutter such as __MACOSX/
            continue
        key = relative.as_posix()
        if key in seen:
            raise ArchiveRefused("the archive holds the same name twice", name)
        seen.add(key)
        target = dest.joinpath(*relative.parts)
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        if target.parent.exists() and not target.parent.is_dir():
            raise ArchiveRefused("a file and a folder have the same name", name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(budget.read(stream, name))


def find_connector_root(folder: Path) -> Path:
    """Return the connector folder in an extracted archive: the top, or its only subfolder.

    Raises:
        ArchiveRefused: no connector.yaml (or .yml/.json) is there.
    """
    if any((folder / name).is_file() for name in _MAIN_FILES):
        return folder
    entries = [p for p in folder.iterdir() if not _SKIPPED.search(p.name)]
    if len(entries) == 1 and entries[0].is_dir():
        inner = entries[0]
        if any((inner / name).is_file() for name in _MAIN_FILES):
            return inner
    raise ArchiveRefused(
        "no connector.yaml at the top of the archive (or in its only folder); "
        "zip the connector folder itself"
    )


def load_folder(folder: Path) -> ConnectorSource:
    """Check the connector folder *folder* and read its other files (``hooks/``, ``methods/``).

    Files that are neither part of the connector format nor under those folders are reported as
    warnings: they are not stored, and the author should know.
    """
    report = check_connector(folder)
    files: dict[str, str] = {}
    problems: list[Problem] = []
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink() or not path.is_file() or _SKIPPED.search(name):
            continue
        if name.startswith(FILE_FOLDERS):
            try:
                files[name] = decode_text(path.read_bytes(), file=name)
            except SpecError as error:
                problems += error.problems
        elif not _CONNECTOR_FILE.match(name):
            problems.append(
                Problem(
                    "not part of a connector (connector.yaml, auth.yaml, resilience.yaml, "
                    "operations/, hooks/, methods/); it was not stored",
                    file=name,
                    severity="warning",
                )
            )
    source = check_report(report, files)
    source.extra_problems += problems
    return source


class _Budget:
    """Counts members and bytes across the archive, refusing at the first cap passed."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.members = 0
        self.total = 0

    def count_member(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveRefused(f"the archive has more than {self.limits.max_members} entries")

    def check_declared(self, size: int, name: str) -> None:
        if size > self.limits.max_file_bytes:
            raise ArchiveRefused(
                f"a file is larger than {self.limits.max_file_bytes} bytes uncompressed", name
            )

    def read(self, stream: IO[bytes], name: str) -> bytes:
        """Read one member, never more than the caps allow, whatever its header said."""
        room = min(self.limits.max_file_bytes, self.limits.max_total_bytes - self.total)
        try:
            data = stream.read(room + 1)
        except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, zlib.error) as error:
            raise ArchiveRefused(
                f"a member cannot be read ({type(error).__name__})", name
            ) from None
        if len(data) > room:
            if room < self.limits.max_file_bytes:
                raise ArchiveRefused(
                    f"the archive holds more than {self.limits.max_total_bytes} bytes uncompressed"
                )
            raise ArchiveRefused(
                f"a file is larger than {self.limits.max_file_bytes} bytes uncompressed", name
            )
        self.total += len(data)
        return data


def _zip_members(raw: bytes, budget: _Budget) -> Iterator[tuple[str, bool, IO[bytes]]]:
    _check_zip_directory(raw, budget.limits)
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise ArchiveRefused("the body is not a readable zip archive") from None
    with archive:
        for info in infos:
            budget.count_member(info.filename)
            # Unix zips keep the file type in the high bits; others (and Python's writestr)
            # leave it 0, which means a plain file.
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind == stat.S_IFLNK:
                raise ArchiveRefused("the archive holds a symbolic link", info.filename)
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise ArchiveRefused(
                    "the archive holds something that is not a file", info.filename
                )
            if info.flag_bits & 0x1:
                raise ArchiveRefused("the archive holds an encrypted file", info.filename)
            if info.is_dir():
                yield info.filename, True, io.BytesIO()
                continue
            budget.check_declared(info.file_size, info.filename)
            try:
                stream = archive.open(info)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError):
                raise ArchiveRefused("a member cannot be read", info.filename) from None
            with stream:
                yield info.filename, False, stream


def _check_zip_directory(raw: bytes, limits: ArchiveLimits) -> None:
    """Refuse a zip whose directory lists too many entries, before zipfile parses them all."""
    end = raw.rfind(b"PK\x05\x06", max(0, len(raw) - 65_557))
    if end < 0 or len(raw) < end + 22:
        return  # zipfile reports the damage
    entries = int.from_bytes(raw[end + 10 : end + 12], "little")
    if entries > limits.max_members:
        raise ArchiveRefused(f"the archive has more than {limits.max_members} entries")


def _tar_members(
    raw: bytes, kind: ArchiveKind, budget: _Budget
) -> Iterator[tuple[str, bool, IO[bytes]]]:
    data = _gunzip(raw, budget.limits) if kind == "tar.gz" else raw
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 -- closed below
    except (tarfile.TarError, OSError, EOFError, ValueError):
        raise ArchiveRefused("the body is not a readable tar archive") from None
    with archive:
        while True:
            try:
                member = archive.next()
            except (tarfile.TarError, OSError, EOFError, ValueError, UnicodeError):
                raise ArchiveRefused("the tar archive is damaged") from None
            if member is None:
                return
            budget.count_member(member.name)
            if member.issym() or member.islnk():
                raise ArchiveRefused("the archive holds a link", member.name)
            if member.isdir():
                yield member.name, True, io.BytesIO()
                continue
            if not member.isreg():
                raise ArchiveRefused("the archive holds something that is not a file", member.name)
            budget.check_declared(member.size, member.name)
            stream = archive.extractfile(member)
            if stream is None:
                raise ArchiveRefused("a member cannot be read", member.name)
            yield member.name, False, stream


def _gunzip(raw: bytes, limits: ArchiveLimits) -> bytes:
    """Decompress gzip data, stopping as soon as it grows past what any valid archive needs."""
    # Headers, padding and end blocks add up to 1536 bytes per member on top of the content.
    cap = limits.max_total_bytes + (limits.max_members + 2) * 1536
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(raw, cap + 1)
    except zlib.error:
        raise ArchiveRefused("the body is not valid gzip data") from None
    if len(data) > cap or decompressor.unconsumed_tail:
        raise ArchiveRefused(f"the archive decompresses to more than {cap} bytes")
    return data


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _safe_path(name: str, max_depth: int) -> PurePosixPath | None:
    """Return *name* as a safe relative path, None for clutter to skip; refuse unsafe names."""
    if _CONTROL.search(name) or "\\" in name:
        raise ArchiveRefused("a name has control characters or backslashes", repr(name))
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ArchiveRefused("a name is an absolute path", name)
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused("a name climbs out of the archive (..)", name)
    if not parts:
        return None
    if len(parts) > max_depth:
        raise ArchiveRefused(f"a name is nested deeper than {max_depth} folders", name)
    relative = PurePosixPath(*parts)
    if _SKIPPED.search(relative.as_posix()):
        return None
    return relative
