"""Hosts that are IPv4 addresses in disguise (connectory/addresses.py)."""

from __future__ import annotations

import pytest

from connectory.addresses import (
    ambiguous_host_problem,
    check_redirect_target,
    check_url_host,
    read_as_ipv4,
)
from connectory.errors import InvalidURL


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("127.000.000.001", "127.0.0.1"),  # leading zeros are octal too
        ("0x7f.1", "127.0.0.1"),  # hexadecimal, short form
        ("0x7F.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # one 32-bit number
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # a.b: b fills three bytes
        ("10.1.258", "10.1.1.2"),  # a.b.c: c fills two bytes
        ("169.254.43518", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("127.0.0.1.", "127.0.0.1"),  # a trailing dot is dropped
        ("1.2.3.4", "1.2.3.4"),
    ],
)
def test_forms_read_as_inet_aton_reads_them(host: str, address: str) -> None:
    assert read_as_ipv4(host) == address


@pytest.mark.parametrize(
    "host", ["api.example.com", "08.0.0.1", "1.2.3.4.5", "256.0.0.1", "0x1.0x100.1.1", "4294967296"]
)
def test_names_and_invalid_numbers_are_no_address(host: str) -> None:
    assert read_as_ipv4(host) is None


@pytest.mark.parametrize(
    "host",
    [
        "0177.0.0.1",
        "127.000.000.001",
        "0x7f.1",
        "2130706433",
        "127.1",
        "127.0.0.1.",
        "\uff11\uff12\uff17.0.0.1",  # fullwidth digits: IDNA maps them to 127
    ],
)
def test_non_canonical_forms_are_refused_with_the_canonical_one(host: str) -> None:
    problem = ambiguous_host_problem(host)
    assert problem is not None
    assert problem.endswith("write it as 127.0.0.1")
    assert f"'{host}'" in problem


@pytest.mark.parametrize("host", ["08.0.0.1", "1.2.3.4.5", "256.1.1.1", "api.example.1"])
def test_hosts_ending_in_a_number_that_are_no_address_are_refused(host: str) -> None:
    problem = ambiguous_host_problem(host)
    assert problem is not None
    assert "ends in a number" in problem


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "8.8.8.8", "0.0.0.0", "255.255.255.255", "api.example.com", "a1", "v2.api.io"],
)
def test_canonical_addresses_and_names_pass(host: str) -> None:
    assert ambiguous_host_problem(host) is None


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/x", "https://[::1]/", "https://user:0x7f.1@api.example.com/", "/rel"],
)
def test_urls_with_canonical_or_no_hosts_pass(url: str) -> None:
    check_url_host(url, "test")


def test_the_refusal_names_what_was_refused_and_never_the_userinfo() -> None:
    with pytest.raises(InvalidURL) as refused:
        check_url_host("http://user:s3cret@0x7f.1:8080/x?k=v", "refusing the base URL")
    message = str(refused.value)
    assert message.startswith("refusing the base URL: the host '0x7f.1' is the IPv4 address")
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("//[::1/x", "Invalid IPv6 URL"),
        ("http://[::1/x", "Invalid IPv6 URL"),
        ("http://127.0.0.1:99999/", "Port out of range 0-65535"),
        ("http://127.0.0.1:port/", "Port could not be cast"),
    ],
)
def test_an_unreadable_redirect_target_is_an_invalid_url(location: str, reason: str) -> None:
    with pytest.raises(InvalidURL, match="the upstream redirected to an invalid URL") as caught:
        check_redirect_target(location, "http://api.example.com/a")
    assert reason in str(caught.value)


@pytest.mark.parametrize("location", ["/next", "//other.example.com/x", "http://[::1]:8080/"])
def test_a_readable_redirect_target_passes(location: str) -> None:
    check_redirect_target(location, "http://api.example.com/a")
