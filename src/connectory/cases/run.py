"""Running a connector's test cases: recorded against the real API, or replayed offline.

Replay builds the connection from the recording (placeholders for secrets, the non-secret
credentials and base URL it was recorded with), answers every request from it, and runs under
a frozen clock: wall time is the moment of recording and moves only when the code sleeps
(retries, rate limits), instantly. Nothing is sent anywhere.

Case kinds plug in through :data:`KIND_RUNNERS`: ``operation`` and ``collection`` run here;
``event`` runs through ``connectory.events.testing`` (skipped, and said so, in a build
without it): a webhook event's ``handle`` on the case's sample request, offline and without a
recording, or one pull of a poll or collection event, recorded and replayed like any call.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from connectory.cases.cassette import Cassette, Scrubber
from connectory.cases.model import CasesFile, CaseSpec
from connectory.cases.transports import RecordingTransport, ReplayTransport
from connectory.errors import ConnectoryError, InputError
from connectory.http.transport import default_transport
from connectory.resilience.clock import FakeClock
from connectory.runtime import ConnectorClient
from connectory.spec.connector import ConnectorSpec
from connectory.toolkit import ToolRunner, build_tools

Outcome = Literal["passed", "failed", "skipped"]
KindRunner = Callable[[ConnectorClient, CaseSpec], Awaitable[dict[str, Any]]]

#: A result larger than this is not a test case's business; the runner reads it whole.
_UNCAPPED = 1 << 30


@dataclass
class CaseResult:
    """How one case went.

    Attributes:
        name: The case's name.
        outcome: ``passed``, ``failed`` or ``skipped``.
        problems: What did not hold (empty when passed).
        requests: Requests the case sent (recorded or replayed).
        data: The case's result, for the builder to show.
    """

    name: str
    outcome: Outcome
    problems: list[str] = field(default_factory=list)
    requests: int = 0
    data: Any = None


async def _run_operation(client: ConnectorClient, case: CaseSpec) -> dict[str, Any]:
    assert case.operation is not None
    if case.all_pages:
        records = [record async for record in client.iter_records(case.operation, case.params)]
        return {"records": records}
    result = await client.call(case.operation, case.params, raise_for_status=False)
    return {
        "status": result.status_code,
        "body": result.body,
        "schema_mismatches": [f"{path}: {message}" for path, message in result.schema_mismatches],
    }


async def _run_collection(client: ConnectorClient, case: CaseSpec) -> dict[str, Any]:
    tool = next(
        (
            tool
            for tool in build_tools(client.spec)
            if tool.kind == "collection"
            and tool.target == case.collection
            and tool.method == case.method
        ),
        None,
    )
    if tool is None:
        raise InputError(
            f"case '{case.name}': the connector has no collection '{case.collection}' with a "
            f"method '{case.method}'"
        )
    outcome = await ToolRunner(client, _UNCAPPED).run(tool, case.input)
    return outcome.data


def _events_testing() -> Any:
    try:
        return importlib.import_module("connectory.events.testing")
    except ImportError:
        raise _Skip("events' handle is not in this build of Connectory yet") from None


async def _run_event(client: ConnectorClient, case: CaseSpec) -> dict[str, Any]:
    result: dict[str, Any] = await _events_testing().run_event_case(
        client,
        case.event,
        case.payload,
        case.headers,
        query=case.query,
        state=case.state,
        parameters=case.params,
    )
    return result


def _offline_event(spec: ConnectorSpec, case: CaseSpec) -> bool:
    """Whether *case* only runs a webhook event's ``handle`` (no API call, no recording)."""
    if case.kind != "event":
        return False
    try:
        module = _events_testing()
    except _Skip:
        return False
    return not module.needs_client(spec, case.event)


#: How each case kind runs: a coroutine from the client and the case to the result's data.
KIND_RUNNERS: dict[str, KindRunner] = {
    "operation": _run_operation,
    "collection": _run_collection,
    "event": _run_event,
}


class _Skip(Exception):
    """A case this build cannot run (its kind is not available)."""


class CaseRunner:
    """Runs the cases of one connector.

    Args:
        spec: The connector.
        cases: Its cases file.
        recordings: The folder of the recordings.
        record: Record against the real API (needs *credentials*) instead of replaying.
        credentials, connector_parameters, config, base_url: The connection to record with.
        transport: The transport recording sends through (default: the real network).
        client_options: More arguments of the recording client (a server passes its
            resilience pipeline and budget keys).
    """

    def __init__(
        self,
        spec: ConnectorSpec,
        cases: CasesFile,
        recordings: Path,
        *,
        record: bool = False,
        credentials: Mapping[str, Any] | None = None,
        connector_parameters: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.cases = cases
        self.recordings = recordings
        self.record = record
        self._credentials = dict(credentials or {})
        self._parameters = dict(connector_parameters or {})
        self._config = dict(config or {})
        self._base_url = base_url
        self._transport = transport
        self._client_options = dict(client_options or {})

    def recording_path(self, case: CaseSpec) -> Path:
        """Where *case*'s recording is."""
        return self.recordings / f"{case.slug}.json"

    async def run(self, names: list[str] | None = None) -> list[CaseResult]:
        """Run every case (or those named), in order.

        Raises:
            InputError: a name that is not a case.
        """
        chosen = self.cases.cases
        if names:
            known = {case.name for case in chosen}
            for name in names:
                if name not in known:
                    raise InputError(f"no case '{name}'; cases: {', '.join(sorted(known))}")
            chosen = [case for case in chosen if case.name in names]
        return [await self.run_case(case) for case in chosen]

    async def run_case(self, case: CaseSpec) -> CaseResult:
        """Run one case, recording or replaying it, and check its expectations."""
        if _offline_event(self.spec, case):
            return await self._checked(case, self._handled(case))
        if self.record:
            return await self._recorded(case)
        return await self._replayed(case)

    async def _recorded(self, case: CaseSpec) -> CaseResult:
        result, cassette = await self.record_case(case)
        self.recordings.mkdir(parents=True, exist_ok=True)
        self.recording_path(case).write_bytes(cassette.to_bytes())
        return result

    async def record_case(self, case: CaseSpec) -> tuple[CaseResult, Cassette]:
        """Run *case* against the real API; return its result and its (scrubbed) recording."""
        scrubber = self._scrubber()
        inner = self._transport or default_transport() or httpx.AsyncHTTPTransport()
        recorder = RecordingTransport(inner)
        client = ConnectorClient(
            self.spec,
            credentials=self._credentials,
            connector_parameters=self._parameters,
            config=self._config,
            base_url=self._base_url,
            transport=recorder,
            **self._client_options,
        )
        async with client:
            result = await self._execute(client, case)
        interactions = recorder.interactions(scrubber)
        cassette = Cassette(
            case=case.name,
            recorded_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            base_url=scrubber.text(self._base_url) if self._base_url else None,
            credentials=self._placeholders(
                self.spec.auth.credential_schema, self._credentials, "credentials"
            ),
            connector_parameters=self._placeholders(
                self.spec.parameters, self._parameters, "connector_parameters"
            ),
            interactions=interactions,
        )
        result.requests = len(interactions)
        return result, cassette

    async def _replayed(self, case: CaseSpec) -> CaseResult:
        try:
            cassette = Cassette.load(self.recording_path(case))
        except InputError as error:
            return CaseResult(case.name, "failed", [str(error)])
        moment = datetime.fromisoformat(cassette.recorded_at.replace("Z", "+00:00"))
        replay = ReplayTransport(cassette.interactions, frozenset(self.cases.ignore_headers))
        try:
            client = ConnectorClient(
                self.spec,
                credentials=cassette.credentials,
                connector_parameters=cassette.connector_parameters,
                config=self._config,
                base_url=cassette.base_url,
                transport=replay,
                clock=FakeClock(wall_start=moment.timestamp()),
            )
        except ConnectoryError as error:
            return CaseResult(case.name, "failed", [f"{type(error).__name__}: {error}"])
        async with client:
            result = await self._execute(client, case)
        result.requests = replay.requests
        return result

    async def _handled(self, case: CaseSpec) -> dict[str, Any]:
        # handle is pure: the case's request in, events out; nothing to record or replay.
        result: dict[str, Any] = _events_testing().handle_event_case(
            self.spec,
            case.event,
            case.payload,
            case.headers,
            query=case.query,
            state=case.state,
        )
        return result

    async def _execute(self, client: ConnectorClient, case: CaseSpec) -> CaseResult:
        return await self._checked(case, KIND_RUNNERS[case.kind](client, case))

    async def _checked(self, case: CaseSpec, running: Awaitable[dict[str, Any]]) -> CaseResult:
        try:
            data = await running
        except _Skip as skip:
            return CaseResult(case.name, "skipped", [str(skip)])
        except ConnectoryError as error:
            problems = check_error(case, error)
            outcome: Outcome = "failed" if problems else "passed"
            return CaseResult(case.name, outcome, problems, data={"error": _error_data(error)})
        problems = check_expectations(case, data)
        return CaseResult(case.name, "failed" if problems else "passed", problems, data=data)

    def _scrubber(self) -> Scrubber:
        secrets: dict[str, str] = {}
        for name, spec in self.spec.auth.credential_schema.items():
            value = self._credentials.get(name)
            if spec.is_sensitive and isinstance(value, str | int | float) and str(value):
                secrets[str(value)] = f"<credentials.{name}>"
        for name, spec in self.spec.parameters.items():
            value = self._parameters.get(name)
            if spec.is_sensitive and isinstance(value, str | int | float) and str(value):
                secrets[str(value)] = f"<connector_parameters.{name}>"
        return Scrubber(secrets)

    @staticmethod
    def _placeholders(
        schema: Mapping[str, Any], values: Mapping[str, Any], root: str
    ) -> dict[str, Any]:
        """What replay builds the connection with: secrets as placeholders, the rest as is."""
        shown: dict[str, Any] = {}
        for name, value in values.items():
            field_spec = schema.get(name)
            sensitive = field_spec is None or field_spec.is_sensitive
            shown[name] = f"<{root}.{name}>" if sensitive else value
        return shown


def _error_data(error: ConnectoryError) -> dict[str, str]:
    return {"code": type(error).__name__, "detail": str(error)}


def check_error(case: CaseSpec, error: ConnectoryError) -> list[str]:
    """Problems when the call raised *error* (none when the case expects that error)."""
    expected = case.expect.error
    names = [cls.__name__ for cls in type(error).__mro__]
    if expected is None:
        return [f"the call failed: {type(error).__name__}: {error}"]
    if expected not in names:
        return [f"expected error {expected}, got {type(error).__name__}: {error}"]
    return []


def check_expectations(case: CaseSpec, data: Mapping[str, Any]) -> list[str]:
    """What of ``expect`` does not hold for a case's result."""
    expect = case.expect
    problems: list[str] = []
    if expect.error is not None:
        problems.append(f"expected error {expect.error}, but the call succeeded")
    if expect.status is not None and data.get("status") != expect.status:
        problems.append(f"expected status {expect.status}, got {data.get('status')}")
    records = data.get("records")
    events = data.get("events")
    if expect.count is not None:
        counted, what = (events, "event") if "events" in data else (records, "record")
        count = len(counted) if isinstance(counted, list) else None
        if count != expect.count:
            problems.append(f"expected {expect.count} {what}(s), got {count}")
    if expect.events is not None and not matches(expect.events, events):
        shown = [{"type": e.get("type"), "id": e.get("id")} for e in events or []][:5]
        problems.append(f"the events do not match {expect.events}; got {shown}")
    if expect.cursor is not None and data.get("cursor") != expect.cursor:
        problems.append(f"expected cursor {expect.cursor}, got {data.get('cursor')}")
    for wanted in expect.records or []:
        if not isinstance(records, list) or not any(matches(wanted, r) for r in records):
            problems.append(f"no record matches {wanted}")
    if expect.body is not None and not matches(expect.body, data.get("body")):
        problems.append(f"the body does not match {expect.body}")
    if expect.record is not None and not matches(expect.record, data.get("record")):
        problems.append(f"the record does not match {expect.record}")
    if expect.schema_ is True and data.get("schema_mismatches"):
        problems.append(
            "the response does not match its schema: " + "; ".join(data["schema_mismatches"][:3])
        )
    return problems


def matches(expected: Any, actual: Any) -> bool:
    """Whether *actual* has everything *expected* has (objects by subset, lists item by item)."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and matches(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)
