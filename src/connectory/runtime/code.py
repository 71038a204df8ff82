"""What connector code sees of one connection: its ctx, its secrets, its engine.

:class:`CodeContext` is created by a :class:`~connectory.runtime.ConnectorClient` whose
connector has code, on first use. Hooks (:mod:`.hooks`) and methods (:mod:`.methods`) run
through it, so both get the same ctx fields, the same secret rules and the same engine.

Secrets: ``ctx.credentials`` holds the fields a reference declares, nothing else; connector
parameters are all visible except sensitive ones not declared. The sensitive values among
them are the run's secrets: ``ctx.utils`` outputs computed from them are registered with the
connection's redactor, like values a hook with secret access writes into the request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectory.errors import LogLine
from connectory.http.redaction import Redactor
from connectory.js import Bridge, CodeBundle, JsEngine, RunOutcome, RunRequest, build_bundle
from connectory.js.invocation import Kind
from connectory.observability.calls import ConnectionCalls
from connectory.runtime.results import OperationResult, SentRequest
from connectory.spec.code import CodeRefSpec
from connectory.spec.connector import ConnectorSpec

#: The tenant of code run outside a server (CLI, Python API): one process, one user.
LOCAL_TENANT = "local"


@dataclass
class CallTrace:
    """What connector code did during one call, for ``call -v`` and the test panel.

    Attributes:
        request_before_hooks: The request as built, before pre-request hooks (redacted).
        logs: Lines the code logged.
        api_calls: Requests a method sent through ctx.apiClient (redacted).
    """

    request_before_hooks: SentRequest | None = None
    logs: list[LogLine] = field(default_factory=list)
    api_calls: list[SentRequest] = field(default_factory=list)

    def attach(self, result: OperationResult) -> None:
        """Put what was traced on the call's result."""
        result.request_before_hooks = self.request_before_hooks
        result.logs = self.logs
        result.api_calls = self.api_calls


class CodeContext:
    """The code of one connector, run for one connection (see the module docstring)."""

    def __init__(
        self,
        spec: ConnectorSpec,
        variables: Mapping[str, Any],
        redactor: Redactor,
        engine: JsEngine,
        tenant: str,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        self.spec = spec
        #: Unix seconds the code sees as "now", or None for the real time (see RunRequest.now).
        self.wall_clock = wall_clock
        self.redactor = redactor
        self.engine = engine
        self.tenant = tenant
        self.bundle: CodeBundle = build_bundle(spec)
        #: The connection's call log (set by the client): every hook and method run is an
        #: entry of kind ``hook`` or ``method``, its apiClient requests counted as attempts.
        self.calls: ConnectionCalls | None = None
        self._credentials: Mapping[str, Any] = variables.get("credentials", {})
        self._parameters: Mapping[str, Any] = variables.get("connector_parameters", {})
        self._config: Mapping[str, Any] = variables.get("config", {})
        # A client's values do not change: each reference's ctx base is worked out once.
        self._bases: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Any] = {}

    def base_ctx(self, ref: CodeRefSpec) -> tuple[dict[str, Any], list[str]]:
        """The ctx fields every piece of code gets, and the secrets among them (a fresh dict)."""
        key = (ref.file, ref.export, tuple(ref.credentials), tuple(ref.connector_parameters))
        found = self._bases.get(key)
        if found is None:
            found = self._bases[key] = self._base_ctx(ref)
        return dict(found[0]), found[1]

    def _base_ctx(self, ref: CodeRefSpec) -> tuple[dict[str, Any], list[str]]:
        schema = self.spec.auth.credential_schema
        credentials: dict[str, Any] = {}
        secrets: list[str] = []
        for name in ref.credentials:
            if name in self._credentials:
                credentials[name] = self._credentials[name]
                if name in schema and schema[name].is_sensitive:
                    secrets.append(str(self._credentials[name]))
        parameters: dict[str, Any] = {}
        for name, value in self._parameters.items():
            declared = self.spec.parameters.get(name)
            sensitive = declared is not None and declared.is_sensitive
            if not sensitive:
                parameters[name] = value
            elif name in ref.connector_parameters:
                parameters[name] = value
                secrets.append(str(value))
        ctx = {
            "credentials": credentials,
            "connectorParameters": parameters,
            "config": dict(self._config),
        }
        return ctx, secrets

    def has_secret_access(self, ref: CodeRefSpec) -> bool:
        """Whether *ref* may read a sensitive credential or connector parameter."""
        return bool(self.base_ctx(ref)[1])

    async def run(
        self,
        ref: CodeRefSpec,
        kind: Kind,
        fields: dict[str, Any],
        trace: CallTrace | None,
        bridge: Bridge | None = None,
    ) -> RunOutcome:
        """Run *ref* with the base ctx plus *fields*; logs go to *trace* (and the log)."""
        calls = self.calls
        if calls is None or not calls.enabled:
            return await self._run(ref, kind, fields, trace, bridge)
        where = ref.file if ref.export == "default" else f"{ref.file}#{ref.export}"
        name = f"{kind}:{where}"
        with calls.track("method" if kind == "method" else "hook", name):
            return await self._run(ref, kind, fields, trace, bridge)

    async def _run(
        self,
        ref: CodeRefSpec,
        kind: Kind,
        fields: dict[str, Any],
        trace: CallTrace | None,
        bridge: Bridge | None,
    ) -> RunOutcome:
        ctx, secrets = self.base_ctx(ref)
        ctx.update(fields)
        now = None if self.wall_clock is None else self.wall_clock() * 1000
        request = RunRequest(ref, kind, ctx, secrets, now=now)
        try:
            outcome = await self.engine.run(
                self.bundle,
                request,
                settings=self.spec.javascript,
                tenant=self.tenant,
                redactor=self.redactor,
                bridge=bridge,
            )
        except Exception as error:
            logs = getattr(error, "logs", None)
            if trace is not None and logs:
                trace.logs += logs
            raise
        if trace is not None:
            trace.logs += outcome.logs
        return outcome
