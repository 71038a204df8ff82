"""Keys that must fit a database column and still tell every distinct value apart."""

from __future__ import annotations

import hashlib

#: The hex SHA-256 and its ``#`` separator: what a shortened key ends with.
_DIGEST_TAIL = 1 + 64
#: Room left beside the digest in a shortened key (readability when someone looks at a row).
_SPARE = 7


def fitted_key(value: str, length: int) -> str:
    """*value* as stored in a column of *length* characters: unchanged when it fits.

    A longer value keeps its first ``length - 72`` characters, followed by ``#`` and the
    SHA-256 (hex) of the whole value: the same value always gives the same key, so a repeat
    is still recognised, and two values differing anywhere, even past the column's length,
    stay distinct (cutting them would make the second one a false duplicate).
    """
    if len(value) <= length:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{value[: length - _DIGEST_TAIL - _SPARE]}#{digest}"
