"""Re-encrypting stored secrets with the newest key, in small batches, while servers run.

Readers keep working throughout: every key stays in the ring, so a value is readable whether it
has been re-encrypted yet or not. Each row is swapped with a compare-and-set on its old
ciphertext, so a value changed by a server meanwhile is never overwritten with stale data.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.services.secret_store import SecretBox
from connectory.store.models import SecretValue, utcnow


async def count_by_key_version(sessions: async_sessionmaker[AsyncSession]) -> dict[int, int]:
    """How many stored secrets each key version encrypted."""
    async with sessions() as session:
        rows = await session.execute(
            select(SecretValue.key_version, func.count()).group_by(SecretValue.key_version)
        )
        return {int(version): int(count) for version, count in rows.all()}


async def reencrypt_secrets(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    batch_size: int = 200,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Re-encrypt every secret made with an older key; return how many were re-encrypted."""
    current = box.ring.current_version
    done = 0
    skipped: set[str] = set()
    while True:
        async with sessions() as session:
            query = (
                select(SecretValue)
                .where(SecretValue.key_version < current)
                .order_by(SecretValue.id)
                .limit(batch_size)
            )
            if skipped:
                query = query.where(SecretValue.id.not_in(skipped))
            rows = list(await session.scalars(query))
            if not rows:
                return done
            for row in rows:
                plaintext = box.open(row)
                ciphertext, version = box.seal(row.owner_type, row.owner_id, row.field, plaintext)
                result = await session.execute(
                    update(SecretValue)
                    .where(SecretValue.id == row.id, SecretValue.ciphertext == row.ciphertext)
                    .values(ciphertext=ciphertext, key_version=version, updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 1) == 1:
                    done += 1
                else:
                    # Changed by a server meanwhile, so already under the newest key.
                    skipped.add(row.id)
            await session.commit()
        if on_progress is not None:
            on_progress(done)
