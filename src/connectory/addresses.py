"""Host names that are IPv4 addresses in disguise: ``0177.0.0.1``, ``0x7f.1``, ``2130706433``.

The C library's ``inet_aton``, browsers (the WHATWG URL standard) and curl read a host whose
last label is a number as an IPv4 address, with octal (``0177``), hexadecimal (``0x7f``) and
short forms (``127.1``): all of the above are 127.0.0.1. Other parsers (httpx, Python's
``ipaddress``) refuse them or treat them as names, so the same URL can be checked as one
destination and connected to as another, a classic way around address checks. Connectory
accepts IPv4 literals only in their canonical dotted-quad form and refuses the rest, in a
connector's definition and again on every URL it is about to send to (rendered base URLs,
next-page URLs, token URLs, redirect targets).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urljoin, urlsplit

from connectory.errors import InvalidURL

_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(r"0[xX][0-9A-Fa-f]*")
_CANONICAL_PART = re.compile(r"0|[1-9][0-9]{0,2}")


def _ends_in_a_number(labels: list[str]) -> bool:
    # The URL standard's "ends in a number" rule: such a host is parsed as IPv4, never as a name.
    last = labels[-1]
    return bool(_DECIMAL.fullmatch(last) or _HEX.fullmatch(last))


def _part_value(part: str) -> int | None:
    if _HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if not _DECIMAL.fullmatch(part):
        return None
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if all(char in "01234567" for char in part) else None
    return int(part)


def read_as_ipv4(host: str) -> str | None:
    """Return the dotted-quad address *host* means to ``inet_aton`` and browsers, or None.

    ``0177.0.0.1``, ``127.000.000.001``, ``0x7f.1``, ``127.1`` and ``2130706433`` all give
    ``127.0.0.1``. None when *host* is not a number-ending host or not a valid address.
    """
    labels = host.rstrip(".").split(".")
    if not labels or not labels[-1] or not _ends_in_a_number(labels) or len(labels) > 4:
        return None
    values = [_part_value(part) for part in labels]
    if any(value is None for value in values):
        return None
    numbers = [value for value in values if value is not None]
    *head, last = numbers
    if any(value > 255 for value in head) or last >= 256 ** (5 - len(numbers)):
        return None
    address = last
    for index, value in enumerate(head):
        address += value << (8 * (3 - index))
    return ".".join(str((address >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def ambiguous_host_problem(host: str) -> str | None:
    """Return why *host* is refused as an IPv4 literal in a non-canonical form, or None.

    Host names (``api.example.com``), canonical IPv4 (``127.0.0.1``) and IPv6 literals pass.
    """
    folded = unicodedata.normalize("NFKC", host).lower()
    labels = folded.rstrip(".").split(".")
    if not labels or not labels[-1] or not _ends_in_a_number(labels):
        return None
    if (
        folded == host.lower()
        and len(labels) == 4
        and all(_CANONICAL_PART.fullmatch(part) and int(part) <= 255 for part in labels)
        and not host.endswith(".")
    ):
        return None
    meant = read_as_ipv4(folded)
    shown = host if len(host) <= 60 else host[:57] + "..."
    if meant is None:
        return (
            f"the host '{shown}' ends in a number, so HTTP clients read it as an IPv4 address, "
            "but it is not a valid one; write an address as four decimal numbers (203.0.113.7) "
            "or use a host name"
        )
    return (
        f"the host '{shown}' is the IPv4 address {meant} written in a non-canonical form "
        "(octal, hexadecimal, leading zeros or fewer than four parts), which HTTP clients read "
        f"differently; write it as {meant}"
    )


def check_url_host(url: str, what: str) -> None:
    """Refuse *url* when its host is an IPv4 address in a non-canonical form.

    Args:
        url: An absolute URL about to be sent to.
        what: What the URL is, for the message ("the base URL", "a redirect target").

    Raises:
        InvalidURL: the host is ambiguous (see :func:`ambiguous_host_problem`).
    """
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return  # not a URL this check can read; the HTTP client refuses it with its own error
    if not host or ":" in host:
        return  # no host, or an IPv6 literal (one notation; the egress guard judges it)
    problem = ambiguous_host_problem(host)
    if problem is not None:
        raise InvalidURL(f"{what}: {problem}")


def check_redirect_target(location: str, base: str) -> None:
    """Refuse a redirect whose ``Location`` (resolved against *base*) has an ambiguous host.

    Raises:
        InvalidURL: the target's host is ambiguous, or the target is not a URL (a broken IPv6
            literal such as ``//[::1/x``, a port above 65535) that can be connected to.
    """
    try:
        target = urljoin(base, location)
        _ = urlsplit(target).port  # reading it validates it (a number within 0-65535)
    except ValueError as exc:
        raise InvalidURL(f"the upstream redirected to an invalid URL ({exc})") from None
    check_url_host(target, "the upstream redirected to a refused address")
