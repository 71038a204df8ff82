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

import copy
import re
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
        wanted = _scopes(context, at, flow, scopes, warn)
        if wanted:
            auth["scopes"] = wanted
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


def _scopes(
    context: ImportContext, at: Parts, flow: dict[str, Any], required: list[str], warn: bool
) -> list[str]:
    """The scopes to request: those the operations require and the flow declares.

    Asking for every scope a flow declares (when no operation names one) would make people
    grant far more than the connector uses, and scopes the flow does not declare are not
    scopes the provider knows (documents put role names or prose there); neither is asked for.
    """
    declared = (
        [str(scope) for scope in flow["scopes"]] if isinstance(flow.get("scopes"), dict) else []
    )
    usable = [scope for scope in required if scope.strip() and " " not in scope.strip()]
    if declared:
        unknown = [scope for scope in usable if scope not in declared]
        usable = [scope for scope in usable if scope in declared]
        if unknown and warn:
            shown = ", ".join(unknown[:5])
            context.warn(
                at,
                f"operations require scopes the flow does not declare ({shown}); they are not "
                "requested: add them to the auth block's scopes if the provider knows them",
            )
        if not required and warn:
            shown = ", ".join(declared[:8]) + (", ..." if len(declared) > 8 else "")
            context.warn(
                at,
                "no operation names the scopes it needs, so the connector requests none; add "
                f"the ones it needs to the auth block's scopes (the flow declares: {shown})",
            )
    return list(dict.fromkeys(usable))


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
    """The auth block chosen for the connector, and every option the document offers.

    Attributes:
        auth: The connector's auth block (``auth_type: none`` when no scheme is used).
        scheme: The scheme it comes from (several joined by ``+`` for a combined block), or
            None.
        options: The auth block of every scheme that maps to one, and of every requirement
            that needs several schemes together (``a+b``), by name.
        supplied: ``(location, name)`` of the parameters the auth block sends itself
            (headers lower-cased).
    """

    def __init__(
        self,
        auth: dict[str, Any],
        scheme: str | None,
        options: dict[str, dict[str, Any]],
        supplied: set[tuple[str, str]] | None = None,
    ) -> None:
        self.auth = auth
        self.scheme = scheme
        self.options = options
        self.supplied = supplied or set()


#: An operation's security: its name, where its requirements are, and the requirements
#: (None when the operation and the document say nothing).
Requirements = tuple[str, Parts, list[Any] | None]

#: A security requirement: the schemes it needs together, in the document's order.
Alternative = tuple[str, ...]


def choose_auth(
    context: ImportContext,
    operations: list[Requirements],
    base_url: str,
    preferred: str | None = None,
) -> AuthChoice:
    """Pick the connector's auth from the security requirements the operations accept.

    The requirement most operations accept wins; one that names several schemes becomes a
    ``combined`` block applying all of them.

    Args:
        context: The import.
        operations: Each imported operation's security requirements.
        base_url: Resolves relative OAuth2 URLs.
        preferred: The scheme to use (``a+b`` for several together), overriding the choice.
    """
    schemes = declared_schemes(context)
    scopes: dict[str, list[str]] = {name: [] for name in schemes}
    usage: dict[Alternative, int] = {}
    required: set[str] = set()
    for _, _, alternatives in operations:
        for alternative in _alternatives(alternatives):
            required |= set(alternative)
            for name, wanted in alternative.items():
                if name in scopes and isinstance(wanted, list):
                    scopes[name] += [str(s) for s in wanted if str(s) not in scopes[name]]
            key = tuple(str(name) for name in alternative)
            if key:
                usage[key] = usage.get(key, 0) + 1
    options: dict[str, dict[str, Any]] = {}
    for name, (scheme, at) in schemes.items():
        auth = map_scheme(context, scheme, at, scopes[name], base_url, warn=name in required)
        if auth is not None:
            options[name] = auth
    for key in usage:
        if len(key) > 1 and all(name in options for name in key):
            options["+".join(key)] = combine_schemes(context, key, options, schemes)
    chosen = _pick(context, schemes, options, usage, preferred)
    _warn_unsatisfied(context, operations, schemes, chosen)
    if chosen is None and options and not required:
        context.warn(
            "/security" if not context.is_swagger else "/securityDefinitions",
            "the document declares security schemes but no operation requires one; the "
            f"connector uses no auth (choose one with --auth-scheme: {', '.join(options)})",
        )
    if not schemes and operations:
        context.warn(
            "/components/securitySchemes" if not context.is_swagger else "/securityDefinitions",
            "the document declares no security scheme; the connector uses no auth (add an auth "
            "block if the API needs credentials)",
        )
    if chosen is None:
        return AuthChoice({"auth_type": "none"}, None, options)
    name = "+".join(chosen)
    auth = options[name]
    return AuthChoice(auth, name, options, supplied_parameters(auth))


def combine_schemes(
    context: ImportContext,
    names: Alternative,
    options: dict[str, dict[str, Any]],
    schemes: dict[str, tuple[dict[str, Any], Parts]],
) -> dict[str, Any]:
    """Return a ``combined`` block applying the auth blocks of *names* together.

    Each credential field keeps its name unless an earlier part has one of that name; API key
    fields are named after their scheme, so the connect form asks for each key by name.
    """
    parts: list[dict[str, Any]] = []
    taken: set[str] = set()
    for name in names:
        part = copy.deepcopy(options[name])
        fields: dict[str, Any] = part.pop("credential_schema", {})
        renamed: dict[str, Any] = {}
        for field_name, field in fields.items():
            wanted = field_name
            if part["auth_type"] == "api_key" or field_name in taken:
                wanted = _field_name(name, field_name, taken)
            if wanted != field_name:
                if field_name in ("access_token", "refresh_token"):
                    context.warn(
                        schemes[name][1],
                        f"schemes {' and '.join(names)} are required together and both use "
                        f"OAuth2 tokens; one connection holds one {field_name}, so combine "
                        "them by hand (a custom auth or a hook)",
                    )
                    continue
                part[field_name] = f"{{{{ credentials.{wanted} }}}}"
                if part["auth_type"] == "api_key":
                    field = {**field, "label": f"{field['label']} ({name})"[:100]}
            renamed[wanted] = field
            taken.add(wanted)
        part["credential_schema"] = renamed
        parts.append(part)
    return {"auth_type": "combined", "schemes": parts}


def _field_name(scheme: str, field_name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", scheme.lower()).strip("_") or field_name
    if not base[0].isalpha():
        base = f"{field_name}_{base}"
    name, counter = base, 2
    while name in taken:
        name, counter = f"{base}_{counter}", counter + 1
    return name


def supplied_parameters(auth: dict[str, Any]) -> set[tuple[str, str]]:
    """``(location, name)`` of the parameters *auth* sends itself (header names lower-cased)."""
    parts = auth.get("schemes") if auth.get("auth_type") == "combined" else [auth]
    found: set[tuple[str, str]] = set()
    for part in parts or []:
        if part.get("auth_type") != "api_key":
            continue
        if part.get("location") == "query":
            found.add(("query", str(part.get("query_param", "api_key"))))
        elif part.get("header_name", "X-API-Key").lower() != "cookie":
            found.add(("header", str(part.get("header_name", "X-API-Key")).lower()))
    return found


def remove_supplied_parameters(
    context: ImportContext, operations: list[dict[str, Any]], choice: AuthChoice
) -> None:
    """Drop the parameters the auth block sends from every operation (warned once each).

    Documents often declare the key or token as a required parameter as well as in a security
    scheme; kept, it would be asked of every caller as a plain (not secret) value and sent
    twice.
    """
    counts: dict[tuple[str, str], int] = {}
    for operation in operations:
        parameters = operation.get("parameters")
        if not parameters:
            continue
        kept = []
        for parameter in parameters:
            location, name = parameter["location"], str(parameter["name"])
            key = (location, name.lower() if location == "header" else name)
            if key in choice.supplied:
                counts[key] = counts.get(key, 0) + 1
            else:
                kept.append(parameter)
        if len(kept) != len(parameters):
            if kept:
                operation["parameters"] = kept
            else:
                del operation["parameters"]
    where = "/components/securitySchemes" if not context.is_swagger else "/securityDefinitions"
    for (location, name), count in sorted(counts.items()):
        context.warn(
            where,
            f"{location} parameter '{name}' is sent by the connector's auth ({choice.scheme}); "
            f"it is removed from {count} operation(s), so callers never pass the secret "
            "themselves",
        )


def _alternatives(requirements: list[Any] | None) -> list[dict[str, Any]]:
    if not isinstance(requirements, list):
        return []
    return [item for item in requirements if isinstance(item, dict)]


def _pick(
    context: ImportContext,
    schemes: dict[str, tuple[dict[str, Any], Parts]],
    options: dict[str, dict[str, Any]],
    usage: dict[Alternative, int],
    preferred: str | None,
) -> Alternative | None:
    if preferred is not None:
        if preferred in options:
            return tuple(preferred.split("+")) if preferred not in schemes else (preferred,)
        known = ", ".join(options) or "none that maps to a connector auth type"
        what = "cannot be mapped" if preferred in schemes else "is not in the document"
        context.fail("", f"security scheme '{preferred}' {what}; usable schemes: {known}")
        return None
    ranked = sorted(
        (key for key in usage if "+".join(key) in options or (len(key) == 1 and key[0] in options)),
        key=lambda key: (-usage[key], len(key), key),
    )
    return ranked[0] if ranked else None


def _warn_unsatisfied(
    context: ImportContext,
    operations: list[Requirements],
    schemes: dict[str, tuple[dict[str, Any], Parts]],
    chosen: Alternative | None,
) -> None:
    """One warning per requirement the auth does not meet, naming its operations."""
    applied = set(chosen or ())
    unmet: dict[str, tuple[Parts, list[str]]] = {}
    for name, at, requirements in operations:
        alternatives = _alternatives(requirements)
        if not alternatives:
            continue
        # The auth applies its schemes to every call; one the operation does not ask for is
        # sent along and does no harm.
        if any(set(item) <= applied for item in alternatives):
            continue
        wanted = " or ".join(" and ".join(item) for item in alternatives)
        unknown = [scheme for item in alternatives for scheme in item if scheme not in schemes]
        if unknown:
            wanted += f" ({', '.join(unknown)} not declared)"
        unmet.setdefault(wanted, (at, []))[1].append(name)
    using = f"scheme {' and '.join(chosen)}" if chosen else "no auth"
    for wanted, (at, names) in unmet.items():
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        context.warn(
            at,
            f"{len(names)} operation(s) require {wanted} ({shown}); the connector authenticates "
            f"with {using}, so those calls may be refused: pick the scheme with --auth-scheme, "
            "or add the credential those operations need as a header template",
        )
