from __future__ import annotations

from connectory.spec.suggest import closest_match, did_you_mean, format_choices


def test_closest_match() -> None:
    assert closest_match("heder_name", ["header_name", "key_prefix"]) == "header_name"
    assert closest_match("qurey", ["query", "path", "header", "body"]) == "query"
    assert closest_match("oauth", ["none", "api_key", "oauth2"]) == "oauth2"
    assert closest_match("general", ["General", "OEM"]) == "General"
    assert closest_match("usr", ["username", "password"]) == "username"
    assert closest_match("zzz", ["query", "path"]) is None
    assert closest_match("", ["query"]) is None


def test_did_you_mean_and_choices() -> None:
    assert (
        did_you_mean("expo", ["none", "linear", "exponential"]) == " (did you mean 'exponential'?)"
    )
    assert did_you_mean("xyz", ["none"]) == ""
    assert format_choices(["a", "b"]) == "a, b"
