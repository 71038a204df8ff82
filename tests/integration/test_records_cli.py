"""``connectory records ...`` locally, against the test API on loopback."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from connectory.cli.app import app as cli

pytestmark = pytest.mark.integration

CONNECTOR = str(Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml")


@pytest.fixture
def local(test_api: str, tmp_path: Path) -> list[str]:
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text("api_key: test-api-key\n")
    return ["--credentials", str(credentials), "--base-url", test_api]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_list_get_search_match(local: list[str]) -> None:
    code, out, _ = run(
        "records", "list", CONNECTOR, "contacts", "--filter", "status=active", *local
    )
    assert code == 0
    records = [orjson.loads(line) for line in out.splitlines()]
    assert len(records) >= 12 and {r["fields"]["status"] for r in records} == {"active"}
    code, out, _ = run(
        "records", "list", CONNECTOR, "contacts", "--one-page", "--page-size", "3", *local
    )
    page = orjson.loads(out)
    assert len(page["records"]) == 3 and page["cursor"]
    code, out, _ = run(
        "records", "list", CONNECTOR, "contacts", "--one-page", "--page-size", "3",
        "--cursor", page["cursor"], *local,
    )  # fmt: skip
    assert orjson.loads(out)["records"][0]["id"] == "4"
    code, out, _ = run("records", "get", CONNECTOR, "contacts", "3", *local)
    assert code == 0 and orjson.loads(out)["name"] == "Grace Hopper"
    code, out, _ = run("records", "search", CONNECTOR, "contacts", "knuth", *local)
    assert code == 0 and out.strip()
    code, out, _ = run(
        "records", "match", CONNECTOR, "contacts", "-f", "email=contact5@acme.example", *local
    )
    assert orjson.loads(out)["id"] == "5"


def test_create_update_delete_and_bad_input(local: list[str]) -> None:
    code, out, _ = run(
        "records", "create", CONNECTOR, "contacts", "-f", "email=cli@x.example", "-f", "score=7",
        *local,
    )  # fmt: skip
    assert code == 0, out
    created = orjson.loads(out)
    assert created["fields"]["score"] == 7
    code, out, _ = run(
        "records", "update", CONNECTOR, "contacts", created["id"], "-f", "score=8", *local
    )
    assert orjson.loads(out)["fields"]["score"] == 8
    code, _, _ = run("records", "delete", CONNECTOR, "contacts", created["id"], *local)
    assert code == 0
    code, _, err = run("records", "get", CONNECTOR, "contacts", created["id"], *local)
    assert code != 0 and "no record with id" in err
    code, _, err = run("records", "create", CONNECTOR, "contacts", "-f", "id=3", *local)
    assert code != 0 and "read-only" in err and "Traceback" not in err
    code, _, err = run("records", "list", CONNECTOR, "contacts", "--filter", "score=1", *local)
    assert code != 0 and "cannot filter by 'score'" in err
    code, _, err = run("records", "list", CONNECTOR, "deals", *local)
    assert code != 0 and "no collection 'deals'" in err
