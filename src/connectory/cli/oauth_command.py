"""``connectory connect PATH --oauth``: authorize a connector for local use, in a browser.

As command-line tools do for desktop logins (RFC 8252): a one-shot HTTP server on a loopback
port receives the provider's redirect (``http://127.0.0.1:PORT/callback``; register
``http://127.0.0.1/callback`` with the provider, which must accept any port for loopback
redirects), the state and PKCE verifier never leave this process, and the tokens are merged
into the credentials file, owner-only (0600). ``connectory call --credentials FILE`` then uses
them and writes refreshed ones back.
"""

from __future__ import annotations

import asyncio
import html
import secrets
import sys
import threading
import webbrowser
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import typer

from connectory.cli.options import ConnectorParameters
from connectory.cli.values import read_values_file

_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Connectory</title>"
    "<body style='font:16px system-ui;margin:40px'><h1>{title}</h1><p>{text}</p></body></html>"
)


@dataclass
class _Callback:
    """What the loopback server received: the first redirect back with our state."""

    state: str
    query: dict[str, str] = field(default_factory=dict)
    arrived: threading.Event = field(default_factory=threading.Event)


def _handler(callback: _Callback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path != "/callback" or query.get("state") != callback.state:
                # Anything else on this port (a favicon, a stray or forged request) is ignored.
                self._answer(404, "Not this", "This is not the authorization Connectory waits for.")
                return
            if callback.arrived.is_set():
                self._answer(400, "Already done", "This authorization was already received.")
                return
            callback.query = query
            callback.arrived.set()
            if "error" in query:
                self._answer(400, "Not authorized", "Go back to the terminal for details.")
            else:
                self._answer(
                    200, "Authorized", "You can close this window and go back to the terminal."
                )

        def _answer(self, status: int, title: str, text: str) -> None:
            body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the query carries the authorization code."""

    return Handler


def connect(
    path: Annotated[
        Path, typer.Argument(help="The connector (file or folder).", show_default=False)
    ],
    # Its own declaration, not options.Credentials: required, and the file tokens go to.
    credentials: Annotated[
        Path,
        typer.Option(
            "--credentials",
            help="Credentials file to write the tokens to (created if missing; other fields, "
            "e.g. a client id, are read from it and kept).",
        ),
    ],
    oauth: Annotated[
        bool, typer.Option("--oauth", help="Authorize in a browser (OAuth2 authorization code).")
    ] = False,
    connector_parameters: ConnectorParameters = None,
    port: Annotated[
        int,
        typer.Option(help="Loopback port for the redirect; 0 picks a free one.", min=0, max=65535),
    ] = 0,
    open_browser: Annotated[
        bool, typer.Option("--browser/--no-browser", help="Open the authorize URL in a browser.")
    ] = True,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the authorization.", min=1)
    ] = 300.0,
) -> None:
    """Connect a connector for local use, authorizing in a browser (``--oauth``).

    The tokens are written to the credentials file (0600) for
    ``connectory call --credentials FILE``, which keeps them refreshed there.
    """
    from connectory.cli.app import guard

    def run() -> None:
        from connectory.errors import InputError

        if not oauth:
            raise InputError(
                "only --oauth is supported: for other auth types, write the credentials file "
                "yourself (name: value lines)"
            )
        asyncio.run(
            _authorize(path, credentials, connector_parameters, port, open_browser, timeout)
        )

    guard(run)


async def _authorize(
    path: Path,
    credentials: Path,
    parameters_file: Path | None,
    port: int,
    open_browser: bool,
    timeout: float,
) -> None:
    from connectory.auth.pkce import new_verifier, s256_challenge
    from connectory.cli.credentials_file import GRANT_FIELDS, store_grant
    from connectory.cli.output import stderr_console
    from connectory.errors import AuthError, InputError
    from connectory.runtime import ConnectorClient
    from connectory.services.oauth_flows import check_authorization_code
    from connectory.spec import load_connector

    spec = load_connector(path)
    auth = check_authorization_code(spec)
    existing = read_values_file(credentials, "credentials") if credentials.exists() else {}
    given = {k: v for k, v in existing.items() if k not in GRANT_FIELDS}
    client = ConnectorClient(
        spec,
        credentials=given,
        connector_parameters=read_values_file(parameters_file, "connector parameters")
        if parameters_file
        else None,
    )
    callback = _Callback(state=secrets.token_urlsafe(32))
    try:
        server = HTTPServer(("127.0.0.1", port), _handler(callback))
    except OSError as error:
        raise InputError(
            f"cannot listen on 127.0.0.1:{port} ({error.strerror}); try --port 0"
        ) from None
    redirect_uri = f"http://127.0.0.1:{server.server_port}/callback"
    verifier = new_verifier() if auth.pkce else None
    url = client.oauth2.authorization_url(
        callback.state, redirect_uri, s256_challenge(verifier) if verifier else None
    )
    thread = threading.Thread(target=server.serve_forever, name="oauth-loopback", daemon=True)
    thread.start()
    console = stderr_console()
    try:
        console.print(f"Open this URL to authorize {spec.name} (waiting up to {timeout:.0f} s):")
        sys.stderr.write(url + "\n")
        sys.stderr.flush()
        if open_browser:
            webbrowser.open(url)
        arrived = await asyncio.to_thread(callback.arrived.wait, timeout)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    if not arrived:
        raise AuthError(f"no authorization arrived within {timeout:.0f} s; run the command again")
    query = callback.query
    if "error" in query:
        refusal = query["error"][:64]
        raise AuthError(f"the provider did not authorize ({refusal}); nothing was written")
    code = query.get("code")
    if not code:
        raise AuthError("the provider sent no authorization code; nothing was written")
    async with client:
        grant = await client.oauth2.exchange_code(code, redirect_uri, verifier)
    store_grant(credentials, grant)
    console.print(
        f"Authorized: the tokens are in {credentials} (owner-only). Use it with "
        f"`connectory call {path} OPERATION --credentials {credentials}`."
    )
