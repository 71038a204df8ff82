"""Example connectors, published into an empty catalogue when the server starts.

``examples_dir`` holds connectors as folders (with ``connector.yaml``) and single files; a
folder without ``connector.yaml`` is a group of single-file connectors (``testapi-auth/``).
Invalid ones (``broken.yaml`` is invalid on purpose) are skipped with a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import InvalidRequest
from connectory.services.archives import load_folder
from connectory.services.connector_documents import ConnectorSource, check_report, with_version
from connectory.services.secret_store import SecretBox
from connectory.services.sensitive_defaults import store_sensitive_defaults
from connectory.services.versioning import FIRST_VERSION
from connectory.spec import ConnectorSpec, check_connector
from connectory.store.models import Connector, ConnectorVersion, User, new_id, utcnow

logger = logging.getLogger("connectory.examples")

_SUFFIXES = (".yaml", ".yml", ".json")
_MAIN_FILES = tuple(f"connector{suffix}" for suffix in _SUFFIXES)
_MAX_DEPTH = 3


async def load_examples(session: AsyncSession, examples_dir: Path, box: SecretBox) -> list[str]:
    """Publish every valid connector under *examples_dir* as 1.0.0 in an empty catalogue.

    The catalogue counts as empty only if it never had a connector (deleted ones included), so
    examples an admin deleted do not come back on the next start. Sensitive defaults are
    sealed with *box*. Returns the slugs loaded.
    """
    had_any = await session.scalar(
        select(func.count()).select_from(Connector).where(Connector.scope == "catalogue")
    )
    if had_any:
        return []
    admin = await session.scalar(
        select(User)
        .where(User.role == "platform_admin", User.deleted_at.is_(None))
        .order_by(User.created_at, User.id)
    )
    if admin is None:
        logger.warning("no platform admin exists; examples were not loaded")
        return []
    loaded: list[str] = []
    for path in _connector_paths(examples_dir, 0):
        source = _load(path)
        shown = path.relative_to(examples_dir)
        if not source.ok or source.report.spec is None:
            errors = [str(p) for p in source.problems if p.severity == "error"]
            logger.warning("example %s skipped: %s", shown, "; ".join(errors[:3]))
            continue
        spec, document = source.valid()
        if spec.slug in loaded:
            logger.warning("example %s skipped: the slug %s is taken", shown, spec.slug)
            continue
        version_id = new_id()
        try:
            document = await store_sensitive_defaults(session, box, version_id, document)
        except InvalidRequest as error:
            logger.warning("example %s skipped: %s", shown, error)
            continue
        _publish(session, admin, spec, document, source.files or {}, shown, version_id)
        loaded.append(spec.slug)
    await session.commit()
    if loaded:
        logger.info("loaded %d example connector(s): %s", len(loaded), ", ".join(loaded))
    return loaded


def _connector_paths(folder: Path, depth: int) -> Iterator[Path]:
    if not folder.is_dir():
        logger.warning("examples folder %s does not exist; no examples loaded", folder)
        return
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_symlink():
            continue
        if path.is_dir():
            if path.name.endswith(".tests"):
                continue  # a single-file connector's test cases and recordings (crm.tests/)
            if any((path / name).is_file() for name in _MAIN_FILES):
                yield path
            elif depth < _MAX_DEPTH:
                yield from _connector_paths(path, depth + 1)
        elif path.suffix.lower() in _SUFFIXES:
            yield path


def _load(path: Path) -> ConnectorSource:
    if path.is_dir():
        return load_folder(path)
    return check_report(check_connector(path), {})


def _publish(
    session: AsyncSession,
    admin: User,
    spec: ConnectorSpec,
    document: dict[str, Any],
    files: dict[str, str],
    shown: Path,
    version_id: str,
) -> None:
    now = utcnow()
    connector = Connector(
        id=new_id(),
        scope="catalogue",
        owner_key="catalogue",
        slug=spec.slug,
        name=spec.name,
        type=spec.type,
        description=spec.description,
        latest_version=FIRST_VERSION,
        created_by=admin.id,
    )
    session.add(connector)
    version = ConnectorVersion(
        id=version_id,
        connector_id=connector.id,
        version=FIRST_VERSION,
        major=1,
        is_draft=False,
        document=with_version(document, FIRST_VERSION),
        files=files,
        changelog=f"Loaded from the examples ({shown.as_posix()}).",
        created_by=admin.id,
        published_by=admin.id,
        published_at=now,
    )
    session.add(version)
