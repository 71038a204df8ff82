"""The rules of the OAuth2 flow that need no server: return URLs, outcomes, OAuth apps."""

from __future__ import annotations

import pytest

from connectory.errors import Conflict
from connectory.services.oauth_apps import app_owner_id, app_parameter_names
from connectory.services.oauth_flows import (
    allowed_return_url,
    flow_credential_schema,
    redirect_uri_of,
    with_outcome,
)
from connectory.spec import ConnectorSpec

ALLOW = ["https://app.example.com/integrations", "http://localhost:3000"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("/ui/", True),
        ("/ui/#/connections", True),
        ("https://app.example.com/integrations", True),
        ("https://app.example.com/integrations/done?x=1", True),
        ("https://APP.example.com/integrations/done", True),
        ("http://localhost:3000/anything", True),
        ("https://app.example.com/integrations-evil", False),
        ("https://app.example.com/other", False),
        ("http://app.example.com/integrations", False),  # scheme matters
        ("https://app.example.com.evil.test/integrations", False),
        ("//evil.test/x", False),
        ("/\\evil.test", False),
        ("https://app.example.com\\@evil.test/integrations", False),
        ("javascript:alert(1)", False),
        ("", False),
        (None, False),
    ],
)
def test_return_urls(url: str | None, allowed: bool) -> None:
    assert allowed_return_url(url, ALLOW) == (url if allowed else None)
    assert allowed_return_url(url, []) == (url if allowed and url and url.startswith("/") else None)


def test_outcomes_go_into_the_query_before_the_fragment() -> None:
    outcome = {"connectory_status": "connected", "connection_id": "abc"}
    assert (
        with_outcome("/ui/#/x", outcome) == "/ui/?connectory_status=connected&connection_id=abc#/x"
    )
    assert with_outcome("https://a.test/p?y=1", {"k": "v w"}) == "https://a.test/p?y=1&k=v+w"


def test_the_redirect_uri_needs_a_public_url() -> None:
    assert redirect_uri_of("https://c.example.com/") == "https://c.example.com/oauth/callback"
    with pytest.raises(Conflict, match="CONNECTORY_PUBLIC_URL"):
        redirect_uri_of(None)


def _spec(client_id: str, client_secret: str) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "name": "X",
            "base_url": "https://api.example.com",
            "auth": {
                "auth_type": "oauth2",
                "grant_type": "authorization_code",
                "authorization_url": "https://a.example.com/authorize",
                "token_url": "https://a.example.com/token",
                "client_id": client_id,
                "client_secret": client_secret,
                "credential_schema": {
                    "tenant": {"type": "string"},
                    "access_token": {"type": "password"},
                    "refresh_token": {"type": "password"},
                },
            },
            "operations": [{"name": "me", "path": "/me"}],
        }
    )


def test_an_enterprise_app_replaces_only_plain_parameter_look_ups() -> None:
    plain = _spec("{{ connector_parameters.app_id }}", "{{connector_parameters.app_secret}}")
    assert app_parameter_names(plain) == ("app_id", "app_secret")
    # Per-connection client credentials, or a computed value: nothing to replace.
    assert (
        app_parameter_names(_spec("{{ credentials.client_id }}", "{{ connector_parameters.s }}"))
        is None
    )
    assert (
        app_parameter_names(_spec("{{ connector_parameters.a }}-x", "{{ connector_parameters.s }}"))
        is None
    )
    assert len(app_owner_id("a" * 32, "b" * 32)) == 64  # fits secret_values.owner_id


def test_a_person_is_never_asked_for_the_tokens() -> None:
    spec = _spec("{{ connector_parameters.a }}", "{{ connector_parameters.b }}")
    assert list(flow_credential_schema(spec)) == ["tenant"]
