"""Contract tests: a connector's requests and an API's live responses against its description.

``connectory contract-test`` calls the connector's operations with the ``example`` values the
description gives their parameters (safe operations only, unless writes are asked for) and
checks, with openapi-core (a maintained OpenAPI 3.0/3.1 validator), that

* each request the connector sent is one the description accepts (path, query, headers, body),
* each response the API answered matches the description (status, headers, body).

An operation none of whose required parameters has an example is skipped, with the reason:
a guessed value would test the guess, not the contract.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx

from connectory.errors import ConnectoryError, InputError
from connectory.http.transport import default_transport
from connectory.openapi.context import ImportContext
from connectory.openapi.operations import list_operations
from connectory.openapi.reading import read_document
from connectory.openapi.servers import base_url as document_base_url
from connectory.spec.connector import ConnectorSpec
from connectory.spec.operations import OperationSpec

if TYPE_CHECKING:
    from connectory.runtime import ConnectorClient

#: Characters of a validation message kept in a report.
_MESSAGE = 300


@dataclass
class OperationCheck:
    """What happened to one operation.

    Attributes:
        operation: The connector operation's name.
        outcome: ``passed``, ``failed`` (a request or response error) or ``skipped``.
        status: The HTTP status the API answered, if called.
        request_errors: Where the request the connector sent breaks the description.
        response_errors: Where the API's response breaks the description.
        reason: Why it was skipped, or the error that stopped the call.
    """

    operation: str
    outcome: str
    status: int | None = None
    request_errors: list[str] = field(default_factory=list)
    response_errors: list[str] = field(default_factory=list)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {key: value for key, value in vars(self).items() if value not in (None, [])}


@dataclass
class ContractReport:
    """Every operation's check."""

    checks: list[OperationCheck] = field(default_factory=list)

    @property
    def failed(self) -> list[OperationCheck]:
        """The operations with a request or response error."""
        return [check for check in self.checks if check.outcome == "failed"]

    def counts(self) -> dict[str, int]:
        """How many passed, failed and were skipped."""
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        for check in self.checks:
            counts[check.outcome] += 1
        return counts


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests on and keeps the last request sent and response received."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()
        self.sent: tuple[httpx.Request, httpx.Response] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send *request* on; keep it and the response (read in full)."""
        await request.aread()
        response = await self._inner.handle_async_request(request)
        content = await response.aread()
        copy = httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )
        self.sent = (request, copy)
        return copy

    async def aclose(self) -> None:
        """Close the transport under it."""
        await self._inner.aclose()


class _Request:
    """An httpx request as openapi-core reads one, moved onto the description's server."""

    def __init__(self, request: httpx.Request, client_base: str, server: str) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        path = request.url.path
        base_path = urlsplit(client_base).path.rstrip("/")
        relative = path[len(base_path) :] if base_path and path.startswith(base_path) else path
        parts = urlsplit(server)
        self.host_url = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path.rstrip("/") + relative
        self.method = request.method.lower()
        self.body: bytes | None = request.content or None
        self.content_type = request.headers.get("content-type", "")
        query = parse_qs(request.url.query.decode(), keep_blank_values=True)
        self.parameters = RequestParameters(
            query=ImmutableMultiDict([(k, v) for k, values in query.items() for v in values]),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        from werkzeug.datastructures import Headers

        self.status_code = response.status_code
        self.headers = Headers(list(response.headers.items()))
        self.content_type = response.headers.get("content-type", "")
        self.data: bytes | None = response.content or None


def load_description(raw: bytes, name: str | None = None) -> dict[str, Any]:
    """Parse a description for contract tests (OpenAPI 3.0 or 3.1).

    Raises:
        OpenAPIError: it cannot be read.
        InputError: it is Swagger 2.0, which openapi-core does not read.
    """
    document = read_document(raw, name=name)
    if document.version == "2.0":
        raise InputError(
            "contract tests need OpenAPI 3.0 or 3.1; convert the Swagger 2.0 description "
            "first (e.g. with swagger2openapi)"
        )
    return document.data


async def run_contract_test(
    spec: ConnectorSpec,
    description: Mapping[str, Any],
    *,
    credentials: Mapping[str, Any] | None = None,
    connector_parameters: Mapping[str, Any] | None = None,
    base_url: str | None = None,
    include_writes: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ContractReport:
    """Call each operation with the description's examples and check both sides.

    Args:
        spec: The connector.
        description: The OpenAPI description (parsed).
        credentials: The connection's credentials.
        connector_parameters: Its connector parameters.
        base_url: Where to call instead of the connector's base URL (a mock server).
        include_writes: Call operations that are not safe (POST, PUT, PATCH, DELETE) too.
        transport: The transport under the recorder (tests); default: the runtime's.
    """
    from connectory.runtime import ConnectorClient

    recorder = Recorder(transport if transport is not None else default_transport())
    async with ConnectorClient(
        spec,
        credentials=credentials,
        connector_parameters=connector_parameters,
        base_url=base_url,
        transport=recorder,
        resilience=CONTRACT_RESILIENCE,
    ) as client:
        return await check_operations(client, recorder, description, include_writes=include_writes)


#: A contract test calls each operation once: a retry would hide the first answer.
CONTRACT_RESILIENCE: dict[str, Any] = {"max_retries": 0}


async def check_operations(
    client: ConnectorClient,
    recorder: Recorder,
    description: Mapping[str, Any],
    *,
    include_writes: bool = False,
) -> ContractReport:
    """Check every operation of *client*'s connector; *recorder* is its transport.

    The client may be a local one or a stored connection's (the server's ``contract-test``
    endpoint): either way its requests go through *recorder*, which keeps what was sent.
    Error messages are redacted with the client's redactor: a validator quoting a value it
    rejected must not hand on a secret.
    """
    from openapi_core import OpenAPI
    from openapi_core.configurations import Config

    # Real descriptions are often not quite valid; what is checked is traffic, not the file.
    # (openapi-core skips the check for None, which its annotation does not list.)
    config = Config(spec_validator_cls=None)  # type: ignore[arg-type]
    context = ImportContext(read_document(dict(description)))
    try:
        validator = OpenAPI.from_dict(dict(description), config=config)
    except Exception as error:  # openapi-core's own errors have no common base to catch
        raise InputError(
            f"openapi-core cannot read the description ({type(error).__name__}: "
            f"{str(error)[:_MESSAGE]}); check it with an OpenAPI linter"
        ) from None
    server = document_base_url(context)
    sources = {(op.method, _pattern(op.path)): op for op in list_operations(context)}
    report = ContractReport()
    for operation in client.spec.operations:
        if not operation.is_safe and not include_writes:
            report.checks.append(
                OperationCheck(
                    operation.name,
                    "skipped",
                    reason=f"{operation.method} is not safe; add --include-writes",
                )
            )
            continue
        source = sources.get((operation.method, _pattern(operation.path)))
        if source is None:
            report.checks.append(
                OperationCheck(operation.name, "skipped", reason="not in the description")
            )
            continue
        arguments, missing = _examples(context, operation, source.operation, source.path_item)
        if missing:
            report.checks.append(
                OperationCheck(
                    operation.name,
                    "skipped",
                    reason=f"no example for required parameter(s) {', '.join(missing)}",
                )
            )
            continue
        recorder.sent = None
        check = OperationCheck(operation.name, "passed")
        try:
            # One entry of the call log each (a stored connection's client; idle locally).
            with client.calls.track("operation", operation.name):
                result = await client.call(operation.name, arguments, raise_for_status=False)
            check.status = result.status_code
        except ConnectoryError as error:
            check.reason = client.redactor.redact(str(error))[:_MESSAGE]
        if recorder.sent is None:
            check.outcome = "failed"
            check.reason = check.reason or "no request was sent"
            report.checks.append(check)
            continue
        sent, answered = recorder.sent
        request = _Request(sent, client.base_url, server)
        try:
            # Redacted before cut: a secret cut in half would no longer be found.
            check.request_errors = [
                client.redactor.redact(_message(e))[:_MESSAGE]
                for e in validator.iter_request_errors(request)
            ]
            check.response_errors = [
                client.redactor.redact(_message(e))[:_MESSAGE]
                for e in validator.iter_response_errors(request, _Response(answered))
            ]
        except Exception as error:  # a description the validator chokes on at this operation
            check.outcome = "failed"
            check.reason = client.redactor.redact(
                f"the validator could not check it ({type(error).__name__}: {error})"
            )[:_MESSAGE]
            report.checks.append(check)
            continue
        if check.request_errors or check.response_errors:
            check.outcome = "failed"
        report.checks.append(check)
    return report


def _pattern(path: str) -> str:
    return re.sub(r"\{[^{}]+\}", "{}", path.rstrip("/") or "/")


def _examples(
    context: ImportContext,
    operation: OperationSpec,
    source: Mapping[str, Any],
    path_item: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """The example value of each parameter the description gives one; the required without."""
    declared: dict[str, Any] = {}
    for owner in (path_item, source):
        for item in owner.get("parameters") or []:
            resolved, _ = context.resolve(item, ())
            if isinstance(resolved, dict) and isinstance(resolved.get("name"), str):
                declared[resolved["name"]] = resolved
    body = _body_example(context, source)
    arguments: dict[str, Any] = {}
    missing: list[str] = []
    for parameter in operation.parameters:
        if parameter.location == "body":
            if isinstance(body, dict) and parameter.name in body:
                arguments[parameter.name] = body[parameter.name]
            elif parameter.required:
                missing.append(parameter.name)
            continue
        value = _example(context, declared.get(parameter.name))
        if value is not _NONE:
            arguments[parameter.name] = value
        elif parameter.required and parameter.default is None:
            missing.append(parameter.name)
    return arguments, missing


_NONE: Any = object()


def _example(context: ImportContext, parameter: Any) -> Any:
    if not isinstance(parameter, dict):
        return _NONE
    if "example" in parameter:
        return parameter["example"]
    examples = parameter.get("examples")
    if isinstance(examples, dict):
        for example in examples.values():
            resolved, _ = context.resolve(example, ())
            if isinstance(resolved, dict) and "value" in resolved:
                return resolved["value"]
    schema, _ = context.resolve(parameter.get("schema"), ())
    if isinstance(schema, dict):
        if "example" in schema:
            return schema["example"]
        if isinstance(schema.get("examples"), list) and schema["examples"]:
            return schema["examples"][0]
    return _NONE


def _body_example(context: ImportContext, source: Mapping[str, Any]) -> Any:
    body, _ = context.resolve(source.get("requestBody"), ())
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, dict):
        return None
    for media in content.values():
        if not isinstance(media, dict):
            continue
        if "example" in media:
            return media["example"]
        schema, _ = context.resolve(media.get("schema"), ())
        if isinstance(schema, dict) and "example" in schema:
            return schema["example"]
    return None


def _message(error: Exception) -> str:
    """The error and what caused it (openapi-core chains the schema errors)."""
    parts = [str(error)]
    cause = error.__cause__
    details = getattr(cause, "schema_errors", None)
    if details:
        parts += [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in details]
    elif cause is not None:
        parts.append(str(cause))
    return "; ".join(parts)


def render_report(report: ContractReport) -> str:
    """The report as JSON text."""
    return json.dumps(
        {"counts": report.counts(), "operations": [c.to_dict() for c in report.checks]}, indent=2
    )


def report_from_dict(data: Mapping[str, Any]) -> ContractReport:
    """A report from its JSON form (a server's ``contract-test`` answer)."""
    checks = []
    for item in data.get("operations") or []:
        checks.append(
            OperationCheck(
                operation=str(item.get("operation")),
                outcome=str(item.get("outcome")),
                status=item.get("status"),
                request_errors=list(item.get("request_errors") or []),
                response_errors=list(item.get("response_errors") or []),
                reason=item.get("reason"),
            )
        )
    return ContractReport(checks)
