"""Storing and reading encrypted secrets (sensitive credentials, connector parameters).

Values are encrypted with the server's key ring and bound to their owner and field. The ring
is reloaded once when a value names a key this process does not know yet: that is how servers
pick up a key that ``connectory keys rotate`` added while they were running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import DecryptionError
from connectory.store.models import SecretValue, utcnow
from connectory.vault import KeyRing, associated_data

logger = logging.getLogger("connectory.secrets")

#: What a sensitive value looks like in every response: set, but never shown.
PLACEHOLDER = "********"


class SecretBox:
    """The process's key ring, reloaded from its source when a newer key appears."""

    def __init__(self, load: Callable[[], KeyRing]) -> None:
        self._load = load
        self.ring = load()

    def reload(self) -> None:
        """Read the key ring again (after a rotation added a key)."""
        self.ring = self._load()

    def seal(self, owner_type: str, owner_id: str, field: str, value: str) -> tuple[str, int]:
        """Encrypt *value*; return the ciphertext and the key version used."""
        aad = associated_data(owner_type, owner_id, field)
        return self.ring.encrypt(value, aad), self.ring.current_version

    def open(self, row: SecretValue) -> str:
        """Decrypt a stored value, reloading the key ring once for an unknown key version."""
        aad = associated_data(row.owner_type, row.owner_id, row.field)
        if self.ring.key_version_of(row.ciphertext) not in self.ring.versions:
            self.reload()
        try:
            return self.ring.decrypt(row.ciphertext, aad)
        except DecryptionError:
            logger.error(
                "secret %s of %s %s cannot be decrypted", row.field, row.owner_type, row.owner_id
            )
            raise


async def write_secrets(
    session: AsyncSession,
    box: SecretBox,
    owner_type: str,
    owner_id: str,
    values: Mapping[str, str | None],
) -> None:
    """Insert, replace (a new value) or delete (None) the owner's secrets by field."""
    existing = {
        row.field: row
        for row in await session.scalars(
            select(SecretValue).where(
                SecretValue.owner_type == owner_type, SecretValue.owner_id == owner_id
            )
        )
    }
    for field, value in values.items():
        row = existing.get(field)
        if value is None:
            if row is not None:
                await session.delete(row)
            continue
        ciphertext, version = box.seal(owner_type, owner_id, field, value)
        if row is None:
            session.add(
                SecretValue(
                    owner_type=owner_type,
                    owner_id=owner_id,
                    field=field,
                    ciphertext=ciphertext,
                    key_version=version,
                )
            )
        else:
            row.ciphertext, row.key_version, row.updated_at = ciphertext, version, utcnow()


async def read_secrets(
    session: AsyncSession, box: SecretBox, owner_type: str, owner_id: str
) -> dict[str, str]:
    """Return the owner's decrypted secrets by field."""
    rows = await session.scalars(
        select(SecretValue).where(
            SecretValue.owner_type == owner_type, SecretValue.owner_id == owner_id
        )
    )
    return {row.field: box.open(row) for row in rows}


async def secret_fields(session: AsyncSession, owner_type: str, owner_id: str) -> set[str]:
    """Return which fields of the owner have a secret stored (without decrypting them)."""
    rows = await session.scalars(
        select(SecretValue.field).where(
            SecretValue.owner_type == owner_type, SecretValue.owner_id == owner_id
        )
    )
    return set(rows)


async def delete_secrets(session: AsyncSession, owner_type: str, owner_id: str) -> None:
    """Delete every secret of the owner."""
    await session.execute(
        delete(SecretValue).where(
            SecretValue.owner_type == owner_type, SecretValue.owner_id == owner_id
        )
    )
