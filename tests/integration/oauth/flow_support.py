"""A live Connectory deployment for the authorization code flow tests, and a scripted browser.

``Deployment`` runs the real app (uvicorn, SQLite) on a free loopback port whose address is
its ``CONNECTORY_PUBLIC_URL``, so the provider really redirects to ``/oauth/callback``. It has
two enterprises (A and B) with an admin each, a viewer in A, and the Catalogue connector
``connect-flow.yaml`` published, pointed at the test's resource server, with the OAuth app of
oidc-provider's ``connectory`` client set as its connector parameters.

``drive_provider`` plays a person in a browser at oidc-provider's own dev pages (login, then
consent), following redirects until the provider sends the browser back to Connectory.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

import httpx
import yaml

from connectory.api import create_app
from connectory.services.tokens import issue_token
from connectory.settings import Settings
from connectory.store import Enterprise, User, create_engine, create_sessionmaker
from connectory.testing import serve
from connectory.testing.instances import free_port

SPEC = Path(__file__).with_name("connect-flow.yaml")
CLIENT = ("connectory", "connectory-secret")
T = TypeVar("T")


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """Run *work* to completion in a thread of its own (Playwright may own this thread's loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


@dataclass
class Deployment:
    """A running Connectory with two enterprises, and the flow connector published."""

    url: str
    database: Path
    app: Any
    tokens: dict[str, str] = field(default_factory=dict)
    enterprises: dict[str, str] = field(default_factory=dict)
    connector_id: str = ""

    def headers(self, user: str) -> dict[str, str]:
        """The Authorization header of *user* (a_admin, b_admin, a_viewer, platform)."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def api(self, user: str) -> httpx.Client:
        """An API client acting as *user*."""
        return httpx.Client(base_url=self.url, headers=self.headers(user), timeout=30)

    def browser(self) -> httpx.Client:
        """A fresh browser: its own cookie jar, redirects followed by hand."""
        return httpx.Client(timeout=30)

    def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        """Run SQL on the deployment's SQLite database (for what no API shows)."""
        with sqlite3.connect(self.database) as db:
            rows = db.execute(statement, args).fetchall()
            db.commit()
            return rows


async def _populate(database_url: str) -> tuple[dict[str, str], dict[str, str]]:
    engine = create_engine(database_url)
    tokens: dict[str, str] = {}
    enterprises: dict[str, str] = {}
    try:
        async with create_sessionmaker(engine)() as session:
            for key in ("a", "b"):
                enterprise = Enterprise(name=f"Enterprise {key.upper()}")
                session.add(enterprise)
                await session.flush()
                enterprises[key] = enterprise.id
            users = {
                "a_admin": ("enterprise_admin", "a"),
                "b_admin": ("enterprise_admin", "b"),
                "a_viewer": ("viewer", "a"),
            }
            for name, (role, key) in users.items():
                user = User(
                    email=f"{name}@example.test",
                    name=name,
                    role=role,
                    enterprise_id=enterprises[key],
                )
                session.add(user)
                await session.flush()
                tokens[name] = (await issue_token(session, user, name="test")).secret
            await session.commit()
    finally:
        await engine.dispose()
    return tokens, enterprises


@contextmanager
def deployment(tmp: Path, issuer: str, api_url: str, **settings: Any) -> Iterator[Deployment]:
    """Run Connectory for one test: SQLite, public URL = its own address."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = tmp / "connectory.db"
    config = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        data_dir=tmp,
        egress_allow="127.0.0.1",
        public_url=url,
        **settings,
    )
    first: list[str] = []
    app = create_app(config, on_first_admin_token=first.append)
    with serve(app, port=port):
        tokens, enterprises = run_async(_populate(config.database_url))
        live = Deployment(url, database, app, {"platform": first[0], **tokens}, enterprises)
        live.connector_id = publish_configured(live, api_url, issuer)
        yield live


def publish(live: Deployment, api_url: str, changes: dict[str, Any] | None = None) -> str:
    """Create and publish the flow connector in the Catalogue; return its id."""
    document = yaml.safe_load(SPEC.read_text())
    document["base_url"] = api_url
    document.update(changes or {})
    with live.api("platform") as platform:
        created = platform.post("/connectors", json=document)
        assert created.status_code == 201, created.text
        connector_id: str = created.json()["id"]
        published = platform.post(f"/connectors/{connector_id}/publish", json={})
        assert published.status_code in (200, 201), published.text
    return connector_id


def publish_configured(
    live: Deployment, api_url: str, issuer: str, changes: dict[str, Any] | None = None
) -> str:
    """:func:`publish`, then set the provider's ``connectory`` client as its parameters."""
    connector_id = publish(live, api_url, changes)
    with live.api("platform") as platform:
        set_ = platform.put(
            f"/connectors/{connector_id}/parameters",
            json={"values": {"issuer": issuer, "client_id": CLIENT[0], "client_secret": CLIENT[1]}},
        )
        assert set_.status_code == 200, set_.text
    return connector_id


_FORM = re.compile(r'<form[^>]*action="([^"]+)"')
_PROMPT = re.compile(r'name="prompt" value="(\w+)"')
_ABORT = re.compile(r'href="([^"]*/abort)"')


def drive_provider(
    browser: httpx.Client, url: str, back_to: str, *, abort: bool = False
) -> httpx.Response:
    """Open the provider's authorize *url*, sign in as alice and consent (or cancel, with
    *abort*), and return the answer of the first request back to *back_to* (Connectory)."""
    response = browser.get(url)
    for _ in range(12):
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            response = browser.get(target)
            if target.startswith(back_to):
                return response
            continue
        assert response.status_code == 200, response.text[:500]
        if abort:
            cancel = _ABORT.search(response.text)
            assert cancel, response.text[:1000]
            response = browser.get(urljoin(str(response.url), cancel.group(1)))
            continue
        form, prompt = _FORM.search(response.text), _PROMPT.search(response.text)
        assert form and prompt, f"no interaction form in:\n{response.text[:1000]}"
        fields = {"prompt": prompt.group(1)}
        if fields["prompt"] == "login":
            fields |= {"login": "alice", "password": "any"}
        response = browser.post(urljoin(str(response.url), form.group(1)), data=fields)
    raise AssertionError("the provider never sent the browser back to Connectory")


def start(
    live: Deployment, browser: httpx.Client, user: str = "a_admin", **body: Any
) -> dict[str, Any]:
    """Start a flow as *user* from *browser* (its cookie jar gets the flow cookie)."""
    body.setdefault("connector_id", live.connector_id)
    response = browser.post(f"{live.url}/oauth/authorize", json=body, headers=live.headers(user))
    assert response.status_code == 200, response.text
    started: dict[str, Any] = response.json()
    return started
