"""Seal sensitive defaults: move them out of version documents into encrypted secret values.

The ``default`` of a credential field or connector parameter that is sensitive (``sensitive:
true`` or ``type: password``) used to be stored in clear in ``connector_versions.document``
and shown to every reader of the connector. This revision encrypts each such value into
``secret_values`` (owner ``connector_version``, owner id the version's id, field
``credential:<name>`` or ``parameter:<name>``, the value JSON-encoded) and leaves
``********`` in the document, as the server does for every new version since.

It needs the server's key ring (``connectory.store.migrate(engine, keys)``, which
``connectory serve`` and ``connectory keys`` pass). Without it, a database with nothing to seal
upgrades; one with something to seal fails with a message rather than leaving the values in
clear. Published versions keep their content: only where the value is kept changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PLACEHOLDER = "********"
_OWNER = "connector_version"

_versions = sa.table(
    "connector_versions", sa.column("id", sa.String), sa.column("document", sa.JSON)
)
_secrets = sa.table(
    "secret_values",
    sa.column("id", sa.String),
    sa.column("owner_type", sa.String),
    sa.column("owner_id", sa.String),
    sa.column("field", sa.String),
    sa.column("ciphertext", sa.Text),
    sa.column("key_version", sa.Integer),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _sensitive_fields(document: Any) -> list[tuple[str, dict[str, Any]]]:
    """(field key, field spec) of every sensitive credential field and connector parameter."""
    found: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(document, dict):
        return found
    groups = [("parameter", document.get("parameters"))]
    auth = document.get("auth")
    if isinstance(auth, dict):
        groups.append(("credential", auth.get("credential_schema")))
    for kind, fields in groups:
        if not isinstance(fields, dict):
            continue
        for name, spec in fields.items():
            if isinstance(spec, dict) and (spec.get("sensitive") or spec.get("type") == "password"):
                found.append((f"{kind}:{name}", spec))
    return found


def upgrade() -> None:
    """Encrypt every sensitive default still stored in clear."""
    keys = context.config.attributes.get("encryption_keys")
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.select(_versions.c.id).order_by(_versions.c.id))]
    for version_id in ids:  # one document in memory at a time: documents can be large
        document = bind.execute(
            sa.select(_versions.c.document).where(_versions.c.id == version_id)
        ).scalar_one()
        sealed = copy.deepcopy(document)
        values = {}
        for key, spec in _sensitive_fields(sealed):
            if spec.get("default") is not None and spec["default"] != _PLACEHOLDER:
                values[key] = json.dumps(spec["default"], ensure_ascii=False)
                spec["default"] = _PLACEHOLDER
        if not values:
            continue
        if keys is None:
            raise RuntimeError(
                "revision 0004 encrypts the sensitive defaults of stored connectors and needs "
                "the encryption keys: start the server (connectory serve) or run "
                "`connectory keys status` with the server's key settings to upgrade"
            )
        from connectory.vault import associated_data

        for key, value in values.items():
            bind.execute(
                sa.delete(_secrets).where(
                    _secrets.c.owner_type == _OWNER,
                    _secrets.c.owner_id == version_id,
                    _secrets.c.field == key,
                )
            )
            bind.execute(
                sa.insert(_secrets).values(
                    id=uuid.uuid4().hex,
                    owner_type=_OWNER,
                    owner_id=version_id,
                    field=key,
                    ciphertext=keys.encrypt(value, associated_data(_OWNER, version_id, key)),
                    key_version=keys.current_version,
                    updated_at=datetime.now(UTC),
                )
            )
        bind.execute(
            sa.update(_versions).where(_versions.c.id == version_id).values(document=sealed)
        )


def downgrade() -> None:
    """Put sealed defaults back into the documents (needs the key ring to decrypt them)."""
    keys = context.config.attributes.get("encryption_keys")
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_secrets.c.owner_id, _secrets.c.field, _secrets.c.ciphertext).where(
            _secrets.c.owner_type == _OWNER
        )
    ).all()
    if not rows:
        return
    if keys is None:
        raise RuntimeError("downgrading revision 0004 needs the encryption keys")
    from connectory.vault import associated_data

    by_version: dict[str, dict[str, Any]] = {}
    for owner_id, field, ciphertext in rows:
        plaintext = keys.decrypt(ciphertext, associated_data(_OWNER, owner_id, field))
        by_version.setdefault(owner_id, {})[field] = json.loads(plaintext)
    for version_id, values in by_version.items():
        document = bind.execute(
            sa.select(_versions.c.document).where(_versions.c.id == version_id)
        ).scalar_one_or_none()
        if document is None:
            continue
        restored = copy.deepcopy(document)
        for key, spec in _sensitive_fields(restored):
            if key in values and spec.get("default") == _PLACEHOLDER:
                spec["default"] = values[key]
        bind.execute(
            sa.update(_versions).where(_versions.c.id == version_id).values(document=restored)
        )
    bind.execute(sa.delete(_secrets).where(_secrets.c.owner_type == _OWNER))
