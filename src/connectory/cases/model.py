"""The test-case file of a connector: what to call, and what must come back.

A folder connector keeps its cases in ``tests/cases.yaml`` and their recordings in
``tests/recordings/``; a single-file connector ``crm.yaml`` in ``crm.tests/`` beside it::

    ignore_headers: [x-trace-id]          # request headers replay does not compare
    cases:
      - name: get item 7
        operation: get_item
        params: {id: 7}
        expect: {status: 200, body: {id: 7}, schema: true}
      - name: active contacts
        collection: contacts
        method: list
        input: {filters: {status: active}, page_size: 5}
        expect: {count: 5, records: [{fields: {status: active}}]}
      - name: missing contact
        collection: contacts
        method: find_by_id
        input: {id: "999"}
        expect: {error: RecordNotFound}
      - name: an item changed, by webhook
        event: item_updated                 # a webhook event: its handle, on this request
        payload: {events: [{id: evt_1, type: item.updated, item: {id: 3}}]}
        headers: {webhook-id: msg_1}
        expect: {events: [{type: item.updated, id: evt_1, payload: {id: 3}}]}
      - name: contacts changed since the cursor
        event: contact_changed              # a poll or collection event: one recorded pull
        state: {cursor: "2026-12-05T12:00:00Z"}
        expect: {count: 2, cursor: "2026-12-05T12:30:00Z"}

Each case is one kind, named by its key: ``operation``, ``collection`` (+ ``method``) or
``event`` (a webhook event's ``handle`` on a sample request, or one pull of a poll or
collection event from the ``state`` given). ``expect`` says what must hold: ``status``
(operations), ``error`` (the error class the call raises), ``count`` (records or events
returned), ``records`` (each given object matches some record, by subset), ``events`` (the
events, in order, each matching by subset), ``cursor`` (a pull's new cursor), ``body`` or
``record`` (subset of the body or the one record), ``schema`` (the response matches the
operation's response schema).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectory.errors import InputError

CASE_KINDS: tuple[str, ...] = ("operation", "collection", "event")
CaseKind = Literal["operation", "collection", "event"]
_SLUG = re.compile(r"[^a-z0-9]+")
_MAX_CASES_BYTES = 4 * 1024 * 1024


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpectSpec(_Model):
    """What a case's result must show (every key given is checked)."""

    status: int | None = Field(default=None, ge=100, le=599)
    error: str | None = Field(default=None, description="The error class the call raises.")
    count: int | None = Field(default=None, ge=0)
    records: list[dict[str, Any]] | None = None
    body: Any = None
    record: dict[str, Any] | None = None
    schema_: bool | None = Field(default=None, alias="schema")
    events: list[dict[str, Any]] | None = Field(
        default=None, description="Events: the events yielded, in order, each by subset."
    )
    cursor: str | None = Field(default=None, description="Pulls: the cursor after the pull.")


class CaseSpec(_Model):
    """One test case (see the module docstring)."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    operation: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    all_pages: bool = Field(default=False, description="Operations: read every page.")
    collection: str | None = None
    method: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    event: str | None = None
    payload: Any = Field(
        default=None, description="Webhook events: the received body (text: raw; else JSON)."
    )
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(
        default_factory=dict, description="Webhook events: the received query."
    )
    state: dict[str, Any] = Field(
        default_factory=dict,
        description="Events: the subscription's state (handle's state; a pull's cursor).",
    )
    expect: ExpectSpec = Field(default_factory=ExpectSpec)

    @model_validator(mode="after")
    def _one_kind(self) -> CaseSpec:
        kinds = [kind for kind in CASE_KINDS if getattr(self, kind) is not None]
        if len(kinds) != 1:
            found = " and ".join(kinds) or "none"
            raise ValueError(
                f"a case needs exactly one of operation:, collection: or event:; it has {found}"
            )
        if self.collection is not None and not self.method:
            raise ValueError("a collection case needs method: (list, find_by_id, ...)")
        return self

    @property
    def kind(self) -> CaseKind:
        """The case's kind."""
        kind: CaseKind = next(k for k in ("operation", "collection", "event") if getattr(self, k))
        return kind

    @property
    def slug(self) -> str:
        """The case's name as a file name."""
        return _SLUG.sub("-", self.name.lower()).strip("-") or "case"


class CasesFile(_Model):
    """A connector's test cases."""

    ignore_headers: list[str] = Field(default_factory=list)
    cases: list[CaseSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> CasesFile:
        seen: set[str] = set()
        for case in self.cases:
            if case.slug in seen:
                raise ValueError(f"two cases are named '{case.name}' (names must be unique)")
            seen.add(case.slug)
        return self


def cases_path_for(connector: Path) -> Path:
    """Where *connector*'s cases live by default."""
    if connector.is_dir():
        return connector / "tests" / "cases.yaml"
    return connector.with_name(f"{connector.stem}.tests") / "cases.yaml"


def parse_cases(data: Any, source: str) -> CasesFile:
    """Check parsed YAML as a cases file.

    Raises:
        InputError: what is wrong and where (``cases[2].expect.status: ...``).
    """
    try:
        return CasesFile.model_validate(data if data is not None else {})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(
            f"[{part}]" if isinstance(part, int) else str(part) for part in first["loc"]
        ).replace(".[", "[")
        message = first["msg"].removeprefix("Value error, ")
        raise InputError(f"{source}: {where or 'the file'}: {message}") from None


def load_cases(path: Path) -> CasesFile:
    """Read a cases file.

    Raises:
        InputError: missing, too large, not YAML, or not a valid cases file.
    """
    try:
        if path.stat().st_size > _MAX_CASES_BYTES:
            raise InputError(f"{path} is larger than 4 MiB")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError:
        raise InputError(
            f"no test cases at {path}; write one (see docs/recorded-tests.md) or pass --cases"
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not valid YAML: {error}") from None
    return parse_cases(data, str(path))


def with_case(cases: CasesFile, case: CaseSpec) -> CasesFile:
    """*cases* with *case* added, or replacing the case of the same name."""
    kept = [existing for existing in cases.cases if existing.slug != case.slug]
    return CasesFile(ignore_headers=cases.ignore_headers, cases=[*kept, case])


def dump_cases(cases: CasesFile) -> str:
    """The YAML text of a cases file (only what each case sets)."""
    data: dict[str, Any] = {}
    if cases.ignore_headers:
        data["ignore_headers"] = cases.ignore_headers
    data["cases"] = [
        case.model_dump(mode="json", by_alias=True, exclude_defaults=True) for case in cases.cases
    ]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
