"""Closest-match suggestions for misspelled field names and values ("did you mean ...?")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# Below this similarity a suggestion is more likely to confuse than to help.
_CUTOFF = 0.6


def closest_match(word: str, choices: Iterable[str], *, cutoff: float = _CUTOFF) -> str | None:
    """Return the choice closest to *word*, or None when nothing is close enough.

    The comparison ignores case (``general`` suggests ``General``), a choice that *word* is a
    prefix of wins outright (``oauth`` suggests ``oauth2``), and an abbreviation matches when it
    fits one choice only (``usr`` suggests ``username``).

    Args:
        word: What was written.
        choices: The valid values.
        cutoff: Minimum similarity (0..1) for a suggestion.
    """
    options = [choice for choice in dict.fromkeys(choices) if choice != word]
    if not word or not options:
        return None
    by_lower = {choice.lower(): choice for choice in options}
    lowered = word.lower()
    if lowered in by_lower:
        return by_lower[lowered]
    prefixed = [choice for choice in options if choice.lower().startswith(lowered)]
    if len(word) >= 3 and len(prefixed) == 1:
        return prefixed[0]
    matches = difflib.get_close_matches(lowered, list(by_lower), n=1, cutoff=cutoff)
    if matches:
        return by_lower[matches[0]]
    # Abbreviations ("usr" for "username"): the letters in order, starting alike, in one choice.
    abbreviated = [c for c in by_lower if len(word) >= 3 and _is_abbreviation(lowered, c)]
    return by_lower[abbreviated[0]] if len(abbreviated) == 1 else None


def _is_abbreviation(short: str, full: str) -> bool:
    if not full.startswith(short[0]):
        return False
    letters = iter(full)
    return all(letter in letters for letter in short)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    match = closest_match(word, choices)
    return f" (did you mean '{match}'?)" if match else ""


def format_choices(choices: Iterable[object]) -> str:
    """Return the choices as a readable list: ``query, path, header, body``."""
    return ", ".join(str(choice) for choice in choices)
