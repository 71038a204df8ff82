"""Security schemes -> the connector's auth block and the ``credential_schema`` it needs.

==============================  ===================================================
document                        connector
==============================  ===================================================
apiKey in header / query        ``api_key``, location header / query, the key's name
apiKey in cookie                ``api_key`` in the ``Cookie`` header, prefix ``name=``
http basic                      ``basic`` (username, password)
http bearer                     ``bearer`` (token)
oauth2 clientCredentials        ``oauth2`` client_credentials, token URL, scopes
oauth2 authorizationCode        ``oauth2`` authorization_code, both URLs, scopes
==============================  ===================================================

Swagger 2.0's ``application`` and ``accessCode`` flows are client credentials and
authorization code. Implicit and password flows, OpenID Connect discovery, mutual TLS and other
HTTP schemes have no auth type here; they are warned about. A connector has one auth block: the
scheme that most of the imported operations accept is used (or the one asked for), and
operations that accept none of it are warned about.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from connectory.openapi.context import ImportContext
from connectory.openapi.pointers import Parts


def declared_schemes(context: ImportContext) -> dict[str, tuple[dict[str, Any], Parts]]:
    """Return the document's security schemes by name, ``$ref`` resolved."""
    base: Parts
    if context.is_swagger:
        container, base = context.data.get("securityDefinitions"), ("securityDefinitions",)
    else:
        components = context.data.get("components")
        container = components.get("securitySchemes") if isinstance(components, dict) else None
        base = ("components", "securitySchemes")
    if not isinstance(container, dict):
        return {}
    schemes: dict[str, tuple[dict[str, Any], Parts]] = {}
    for name, scheme in container.items():
        resolved, at = context.resolve(scheme, (*base, name))
        if isinstance(resolved, dict):
            schemes[str(name)] = (resolved, at)
    return schemes


def map_scheme(
    context: ImportContext,
    scheme: dict[str, Any],
    at: Parts,
    scopes: list[str],
    base_url: str,
    *,
    warn: bool = True,
) -> dict[str, Any] | None:
    """Return the auth block for one security scheme, or None (warned) when it has none."""
    kind = str(scheme.get("type", ""))
    help_text = scheme.get("description") if isinstance(scheme.get("description"), str) else None
    if kind == "apiKey":
        return _api_key(context, scheme, at, help_text, warn)
    if kind == "basic" or (kind == "http" and str(scheme.get("scheme", "")).lower() == "basic"):
        return {
            "auth_type": "basic",
            "credential_schema": {
                "username": _field("Username", "string", help_text),
                "password": _field("Password", "password", help_text),
            },
        }
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
        token_help = help_text
        if isinstance(scheme.get("bearerFormat"), str) and not token_help:
            token_help = f"A {scheme['bearerFormat']} bearer token"
        return {
            "auth_type": "bearer",
            "credential_schema": {"token": _field("Token", "password", token_help)},
        }
    if kind == "oauth2":
        return _oauth2(context, scheme, at, scopes, base_url, help_text, warn)
    if warn:
        what = {
            "http": f"HTTP authentication scheme '{scheme.get('scheme')}'",
            "openIdConnect": "OpenID Connect discovery",
            "mutualTLS": "mutual TLS",
        }.get(kind, f"security scheme type '{kind}'")
        advice = (
            "; configure auth_type oauth2 with the provider's token URL instead"
            if kind == "openIdConnect"
            else ""
        )
        context.warn(at, f"{what} has no connector auth type{advice}")
    return None


def _api_key(
    context: ImportContext, scheme: dict[str, Any], at: Parts, help_text: str | None, warn: bool
) -> dict[str, Any] | None:
    name, location = scheme.get("name"), scheme.get("in")
    if not isinstance(name, str) or not name:
        if warn:
            context.warn(at, "the apiKey scheme has no name; it cannot be mapped")
        return None
    auth: dict[str, Any] = {
        "auth_type": "api_key",
        "credential_schema": {"api_key": _field("API key", "password", help_text)},
    }
    if location == "query":
        auth.update(location="query", query_param=name)
    elif location == "cookie":
        # A cookie is a header the connector can write: "Cookie: name=<key>".
        auth.update(location="header", header_name="Cookie", key_prefix=f"{name}=")
    elif location == "header":
        auth.update(location="header", header_name=name)
    else:
        if warn:
            context.warn(at, f"the apiKey scheme is in '{location}'; header, query or cookie work")
        return None
    return auth


def _oauth2(
    context: ImportContext,
    scheme: dict[str, Any],
    at: Parts,
    scopes: list[str],
    base_url: str,
    help_text: str | None,
    warn: bool,
) -> dict[str, Any] | None:
    flows = _flows(context, scheme)
    for flow_name, grant in (
        ("clientCredentials", "client_credentials"),
        ("authorizationCode", "authorization_code"),
    ):
        flow = flows.get(flow_name)
        if not isinstance(flow, dict) or not isinstance(flow.get("tokenUrl"), str):
            continue
        fields = {
            "client_id": _field("Client ID", "string", help_text),
            "client_secret": _field("Client secret", "password", None),
        }
        auth: dict[str, Any] = {
            "auth_type": "oauth2",
            "grant_type": grant,
            "token_url": urljoin(base_url + "/", flow["tokenUrl"]),
        }
        if grant == "authorization_code":
            url = flow.get("authorizationUrl")
            if not isinstance(url, str):
                continue
            auth["authorization_url"] = urljoin(base_url + "/", url)
            fields["access_token"] = _field("Access token", "password", None, required=False)
            fields["refresh_token"] = _field("Refresh token", "password", None, required=False)
        declared = list(flow["scopes"]) if isinstance(flow.get("scopes"), dict) else []
        wanted = scopes or declared
        if wanted:
            auth["scopes"] = [str(scope) for scope in wanted]
        auth["credential_schema"] = fields
        return auth
    if warn:
        offered = ", ".join(flows) or "none"
        context.warn(
            at,
            f"OAuth2 flows {offered} have no connector auth type; client credentials and "
            "authorization code are supported",
        )
    return None


def _flows(context: ImportContext, scheme: dict[str, Any]) -> dict[str, Any]:
    if not context.is_swagger:
        flows = scheme.get("flows")
        return flows if isinstance(flows, dict) else {}
    # Swagger 2.0 names the flow and puts its URLs on the scheme itself.
    names = {
        "application": "clientCredentials",
        "accessCode": "authorizationCode",
        "implicit": "implicit",
        "password": "password",
    }
    flow = str(scheme.get("flow", ""))
    return {names.get(flow, flow): scheme}


def _field(
    label: str, kind: str, help_text: str | None, *, required: bool = True
) -> dict[str, Any]:
    field: dict[str, Any] = {"label": label, "type": kind, "required": required}
    if kind == "password":
        field["sensitive"] = True
    if help_text:
        field["help"] = help_text[:500]
    return field


class AuthChoice:
    """The auth block chosen for the connector, and every scheme that maps to one.

    Attributes:
        auth: The connector's auth block (``auth_type: none`` when no scheme is used).
        scheme: The name of the scheme it comes from, or None.
        options: The auth block of every scheme that maps to one, by scheme name.
    """

    def __init__(
        self, auth: dict[str, Any], scheme: str | None, options: dict[str, dict[str, Any]]
    ) -> None:
        self.auth = auth
        self.scheme = scheme
        self.options = options


#: An operation's security: its name, where its requirements are, and the requirements
#: (None when the operation and the document say nothing).
Requirements = tuple[str, Parts, list[Any] | None]


def choose_auth(
    context: ImportContext,
    operations: list[Requirements],
    base_url: str,
    preferred: str | None = None,
) -> AuthChoice:
    """Pick the connector's auth from the schemes the operations accept.

    Args:
        context: The import.
        operations: Each imported operation's security requirements.
        base_url: Resolves relative OAuth2 URLs.
        preferred: The scheme to use, overriding the choice.
    """
    schemes = declared_schemes(context)
    scopes: dict[str, list[str]] = {name: [] for name in schemes}
    usage: dict[str, int] = dict.fromkeys(schemes, 0)
    required: set[str] = set()
    for _, _, alternatives in operations:
        for alternative in _alternatives(alternatives):
            required |= set(alternative)
            for name, wanted in alternative.items():
                if name in scopes and isinstance(wanted, list):
                    scopes[name] += [str(s) for s in wanted if str(s) not in scopes[name]]
            if len(alternative) == 1:
                (name,) = alternative
                if name in usage:
                    usage[name] += 1
    options: dict[str, dict[str, Any]] = {}
    for name, (scheme, at) in schemes.items():
        auth = map_scheme(context, scheme, at, scopes[name], base_url, warn=name in required)
        if auth is not None:
            options[name] = auth
    chosen = _pick(context, schemes, options, usage, preferred)
    _warn_unsatisfied(context, operations, schemes, chosen)
    if chosen is None and options and not required:
        context.warn(
            "/security" if not context.is_swagger else "/securityDefinitions",
            "the document declares security schemes but no operation requires one; the "
            f"connector uses no auth (choose one of: {', '.join(options)})",
        )
    if not schemes and operations:
        context.warn(
            "/components/securitySchemes" if not context.is_swagger else "/securityDefinitions",
            "the document declares no security scheme; the connector uses no auth (add an auth "
            "block if the API needs credentials)",
        )
    auth = options[chosen] if chosen is not None else {"auth_type": "none"}
    return AuthChoice(auth, chosen, options)


def _alternatives(requirements: list[Any] | None) -> list[dict[str, Any]]:
    if not isinstance(requirements, list):
        return []
    return [item for item in requirements if isinstance(item, dict)]


def _pick(
    context: ImportContext,
    schemes: dict[str, tuple[dict[str, Any], Parts]],
    options: dict[str, dict[str, Any]],
    usage: dict[str, int],
    preferred: str | None,
) -> str | None:
    if preferred is not None:
        if preferred in options:
            return preferred
        known = ", ".join(options) or "none that maps to a connector auth type"
        what = "cannot be mapped" if preferred in schemes else "is not in the document"
        context.fail("", f"security scheme '{preferred}' {what}; usable schemes: {known}")
        return None
    ranked = sorted(options, key=lambda name: -usage.get(name, 0))
    if ranked and usage.get(ranked[0], 0) > 0:
        return ranked[0]
    return None


def _warn_unsatisfied(
    context: ImportContext,
    operations: list[Requirements],
    schemes: dict[str, tuple[dict[str, Any], Parts]],
    chosen: str | None,
) -> None:
    for name, at, requirements in operations:
        alternatives = _alternatives(requirements)
        if not alternatives:
            continue
        if any(not item or set(item) == {chosen} for item in alternatives):
            continue
        wanted = " or ".join(" and ".join(item) for item in alternatives)
        using = f"scheme '{chosen}'" if chosen else "no auth"
        unknown = [scheme for item in alternatives for scheme in item if scheme not in schemes]
        extra = f" ({', '.join(unknown)} not declared)" if unknown else ""
        context.warn(
            at,
            f"operation '{name}' requires {wanted}{extra}; the connector authenticates with "
            f"{using}, so calls may be refused",
        )
