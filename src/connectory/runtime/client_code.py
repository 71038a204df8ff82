"""A connector client's JavaScript: its hooks per operation, and its methods.

The client creates one :class:`ClientCode` the first time its connector's code is needed, so
connectors without code never import the engine. The client calls it at two points of
sending a request (hooks) and for ``implementation: javascript`` operations and
:meth:`~connectory.runtime.ConnectorClient.run_method` (methods).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectory.http.redaction import Redactor
from connectory.js import JsEngine
from connectory.runtime.code import CallTrace, CodeContext
from connectory.runtime.hooks import OperationHooks, origins_of
from connectory.runtime.methods import ApiBridge, Describe, Send, run_method
from connectory.runtime.records import extract_records
from connectory.runtime.request import OperationPlan
from connectory.runtime.results import OperationResult, Page
from connectory.spec.code import CodeRefSpec
from connectory.spec.connector import ConnectorSpec
from connectory.spec.operations import OperationSpec


class ClientCode:
    """Hooks and methods of one client (see the module docstring).

    Args:
        spec: The connector (with its code files attached).
        variables: The client's credentials, connector parameters and config.
        redactor: The connection's redactor (code-derived secrets are added to it).
        base_url: The client's base URL (apiClient paths are relative to it).
        engine: The engine to run on; None creates one for this client (closed with it).
        tenant: Whose code this is: instances are never shared between tenants.
        send: The client's way of sending a request through its runtime.
        describe: The client's way of showing a request (redacted).
        check_schema: The client's response schema check (plan, body, always).
        clock: Monotonic seconds.
        base_headers: The connector's headers (rendered), sent with apiClient requests too.
        wall_clock: Unix seconds the code sees as "now" (a virtual clock's); None: real time.
    """

    def __init__(
        self,
        spec: ConnectorSpec,
        variables: Mapping[str, Any],
        redactor: Redactor,
        base_url: str,
        *,
        engine: JsEngine | None,
        tenant: str,
        send: Send,
        describe: Describe,
        check_schema: Callable[[OperationPlan, Any, bool], list[tuple[str, str]]],
        clock: Callable[[], float],
        base_headers: Mapping[str, str],
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        self._own_engine = engine is None
        self.engine = engine if engine is not None else JsEngine()
        self.code = CodeContext(
            spec, variables, redactor, self.engine, tenant, wall_clock=wall_clock
        )
        self._base_url = base_url
        self._origins = origins_of(base_url, spec.javascript.allowed_origins)
        self._send = send
        self._describe = describe
        self._check_schema = check_schema
        self._clock = clock
        self._base_headers = dict(base_headers)
        self._hooks: dict[str, OperationHooks | None] = {}
        self._method_plans: dict[str, OperationPlan] = {}

    def hooks_for(self, operation: OperationSpec) -> OperationHooks | None:
        """The hooks around *operation*'s requests, or None when it has none."""
        if operation.name not in self._hooks:
            hooks = OperationHooks(self.code, operation, self._origins, self._describe)
            self._hooks[operation.name] = hooks if hooks.pre or hooks.post else None
        return self._hooks[operation.name]

    async def run_method(
        self,
        ref: CodeRefSpec,
        *,
        parameters: Mapping[str, Any] | None,
        input: Any,
        plan: OperationPlan | None,
        trace: CallTrace | None,
    ) -> Any:
        """Run a method; its apiClient requests use *plan*'s resilience and hooks.

        Without a plan (a method that implements no operation) the connector's resilience
        settings and its global hooks apply, and ``ctx.operation`` is null.
        """
        operation = plan.operation.name if plan is not None else None
        bridge = ApiBridge(
            plan=plan or self._plan_for(ref),
            base_url=self._base_url,
            origins=self._origins,
            send=self._send,
            describe=self._describe,
            base_headers=self._base_headers,
            parameters=parameters,
            trace=trace,
        )
        return await run_method(
            self.code,
            ref,
            bridge,
            operation=operation,
            parameters=parameters,
            input=input,
            trace=trace,
        )

    async def call_operation(
        self, plan: OperationPlan, params: Mapping[str, Any], trace: CallTrace | None
    ) -> OperationResult:
        """Call an ``implementation: javascript`` operation: its method's value is the body."""
        parameters = plan.check_parameters(params)
        assert plan.operation.code is not None  # the loader requires it
        started = self._clock()
        body = await self.run_method(
            plan.operation.code, parameters=parameters, input=None, plan=plan, trace=trace
        )
        result = OperationResult(
            operation=plan.operation.name,
            status_code=200,
            headers={},
            body=body,
            elapsed=self._clock() - started,
        )
        if trace is not None:
            # The method's requests are in api_calls; "before hooks" is about the operation's
            # own request, which a javascript operation does not have.
            trace.request_before_hooks = None
            trace.attach(result)
        result.schema_mismatches = self._check_schema(plan, body, True)
        return result

    async def operation_page(self, plan: OperationPlan, params: Mapping[str, Any]) -> Page:
        """A javascript operation read as pages: one page, of its value's records."""
        result = await self.call_operation(plan, params, None)
        records = extract_records(result.body, plan.record_selector)
        assert plan.operation.code is not None
        return Page(
            number=1,
            records=records,
            status_code=200,
            url=f"javascript:{plan.operation.code.label}",
            elapsed=result.elapsed,
            records_so_far=len(records),
            schema_mismatches=result.schema_mismatches,
        )

    def _plan_for(self, ref: CodeRefSpec) -> OperationPlan:
        """A plan for a method outside any operation: connector resilience, global hooks."""
        plan = self._method_plans.get(ref.label)
        if plan is None:
            operation = OperationSpec(name=ref.label, implementation="javascript", code=ref)
            plan = self._method_plans[ref.label] = OperationPlan(operation, self._base_url)
        return plan

    async def aclose(self) -> None:
        """Close the engine if this client created it."""
        if self._own_engine:
            await self.engine.aclose()
