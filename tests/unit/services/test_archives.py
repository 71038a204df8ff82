"""Safe extraction of uploaded connector archives: limits, paths, links, bombs."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from connectory.errors import ConnectoryError, InvalidRequest, SpecError
from connectory.services.archives import (
    ArchiveLimits,
    ArchiveRefused,
    detect_kind,
    extract_archive,
    find_connector_root,
    load_folder,
    load_upload,
)

CONNECTOR = "name: Weather\nbase_url: https://api.weather.test\n"
SMALL = ArchiveLimits(max_members=10, max_file_bytes=1000, max_total_bytes=3000, max_depth=3)


def _zip(files: dict[str, str | bytes], **options: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, **options) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _tar(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                archive.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def _refused(raw: bytes, kind: str, tmp_path: Path, limits: ArchiveLimits = SMALL) -> str:
    with pytest.raises(ArchiveRefused) as caught:
        extract_archive(raw, kind, tmp_path, limits)  # type: ignore[arg-type]
    return str(caught.value)


@pytest.mark.parametrize(
    ("raw", "content_type", "kind"),
    [
        (b"PK\x03\x04rest", None, "zip"),
        (b"PK\x05\x06rest", "text/yaml", "zip"),  # the bytes win over the label
        (b"\x1f\x8brest", None, "tar.gz"),
        (b"x" * 257 + b"ustar" + b"\0" * 10, None, "tar"),
        (b'  {"name": 1}', None, "json"),
        (b"name: x", None, "yaml"),
        (b"name: x", "application/json; charset=utf-8", "json"),
        (b"{}", "text/yaml", "yaml"),
    ],
)
def test_detect_kind(raw: bytes, content_type: str | None, kind: str) -> None:
    assert detect_kind(raw, content_type) == kind


def test_a_label_that_promises_an_archive_must_be_kept(tmp_path: Path) -> None:
    with pytest.raises(ArchiveRefused, match="labelled application/gzip"):
        detect_kind(b"name: x", "application/gzip")


def test_zip_and_tar_extract_files_and_folders(tmp_path: Path) -> None:
    extract_archive(_zip({"c/connector.yaml": CONNECTOR, "c/hooks/": ""}), "zip", tmp_path, SMALL)
    assert (tmp_path / "c" / "connector.yaml").read_text() == CONNECTOR
    assert (tmp_path / "c" / "hooks").is_dir()
    assert find_connector_root(tmp_path) == tmp_path / "c"
    other = tmp_path / "tar"
    other.mkdir()
    extract_archive(_tar([("connector.yaml", CONNECTOR.encode())]), "tar.gz", other, SMALL)
    assert find_connector_root(other) == other


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil", "climbs out"),
        ("a/../../evil", "climbs out"),
        ("/etc/passwd", "absolute"),
        ("C:/windows/evil", "absolute"),
        ("a\\..\\evil", "backslash"),
        ("a\x01b", "control"),
        ("a/b/c/d/e", "deeper than 3"),
    ],
)
def test_unsafe_names_are_refused(name: str, reason: str, tmp_path: Path) -> None:
    assert reason in _refused(_zip({name: "x"}), "zip", tmp_path)
    assert reason in _refused(_tar([(name, b"x")]), "tar.gz", tmp_path / "t")
    assert list(tmp_path.rglob("*evil*")) == []


def test_clutter_is_skipped_and_duplicates_refused(tmp_path: Path) -> None:
    extract_archive(
        _zip({"connector.yaml": CONNECTOR, "__MACOSX/._connector.yaml": "x", ".DS_Store": "x"}),
        "zip",
        tmp_path,
        SMALL,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["connector.yaml"]
    duplicate = _tar([("a.yaml", b"1"), ("./a.yaml", b"2")])
    assert "same name twice" in _refused(duplicate, "tar.gz", tmp_path / "d")
    clash = _zip({"hooks": "a file", "hooks/x.js": "and a folder"})
    assert "same name" in _refused(clash, "zip", tmp_path / "c")


def test_links_and_special_files_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("hooks/link.js")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    assert "symbolic link" in _refused(buffer.getvalue(), "zip", tmp_path)
    for kind in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE):
        member = tarfile.TarInfo("hooks/special.js")
        member.type = kind
        member.linkname = "/etc/passwd"
        assert "archive holds" in _refused(_tar([member]), "tar.gz", tmp_path)


def test_size_caps_hold_whatever_the_headers_say(tmp_path: Path) -> None:
    big = _zip({"connector.yaml": "#" * 1001})
    assert "larger than 1000 bytes" in _refused(big, "zip", tmp_path)
    # Four files of 900 bytes: each allowed, together over the 3000-byte total.
    many = _zip({f"hooks/{i}.js": "#" * 900 for i in range(4)})
    assert "more than 3000 bytes" in _refused(many, "zip", tmp_path / "m")
    too_many = _zip({f"hooks/{i}.js": "" for i in range(11)})
    assert "more than 10 entries" in _refused(too_many, "zip", tmp_path / "n")


def test_a_zip_that_lies_about_sizes_is_refused(tmp_path: Path) -> None:
    raw = bytearray(_zip({"hooks/a.js": "#" * 5000}, compresslevel=9))
    # Rewrite the uncompressed size in the local header and the central directory to 10.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.find(signature)
        raw[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    message = _refused(bytes(raw), "zip", tmp_path)
    assert "cannot be read" in message or "larger than" in message
    assert not any(p.is_file() and p.stat().st_size > 1000 for p in tmp_path.rglob("*"))


def test_a_gzip_bomb_stops_at_the_cap(tmp_path: Path) -> None:
    bomb = _tar([("hooks/zeros.js", b"\0" * (5 * 1024 * 1024))])
    assert len(bomb) < 50_000
    assert "decompresses to more than" in _refused(bomb, "tar.gz", tmp_path)


def test_an_encrypted_zip_is_refused(tmp_path: Path) -> None:
    raw = bytearray(_zip({"connector.yaml": CONNECTOR}))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        raw[at + offset] |= 0x1
    assert "encrypted" in _refused(bytes(raw), "zip", tmp_path)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"PK\x03\x04" + b"\0" * 40, "zip"),
        (b"\x1f\x8b\x08\x00" + b"\xff" * 40, "tar.gz"),
        (b"not a tar at all" * 40, "tar"),
    ],
)
def test_damaged_archives_are_refused(raw: bytes, kind: str, tmp_path: Path) -> None:
    _refused(raw, kind, tmp_path)


def test_load_upload_reads_a_connector_folder(tmp_path: Path) -> None:
    raw = _zip(
        {
            "weather/connector.yaml": CONNECTOR,
            "weather/operations/get.yaml": "operation: get\npath: /get\n",
            "weather/hooks/pre.js": "// hook\n",
            "weather/notes.txt": "not part of it",
        }
    )
    source = load_upload(raw)
    spec, _ = source.valid()
    assert spec.operation_names == ["get"]
    assert source.files == {"hooks/pre.js": "// hook\n"}
    assert [(p.file, p.severity) for p in source.problems] == [("notes.txt", "warning")]


def test_load_folder_reports_hooks_that_are_not_text(tmp_path: Path) -> None:
    (tmp_path / "hooks").mkdir()
    (tmp_path / "connector.yaml").write_text(CONNECTOR)
    (tmp_path / "hooks" / "bin.js").write_bytes(b"\xff\xfe\x00")
    source = load_folder(tmp_path)
    assert not source.ok
    assert source.problems[0].file == "hooks/bin.js"
    with pytest.raises(SpecError):
        source.valid()


def test_text_uploads_must_be_utf8() -> None:
    with pytest.raises(SpecError, match="not UTF-8"):
        load_upload(b"name: caf\xe9\n")


def test_refusals_are_invalid_requests() -> None:
    error: ConnectoryError = ArchiveRefused("the archive holds a link", "x")
    assert isinstance(error, InvalidRequest)
    assert error.problems[0].file == "x"
