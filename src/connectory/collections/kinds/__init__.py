"""Implementation kinds of collection methods: one small module per kind.

A method's spec names its kind by key (``operation:``, ``request:`` or ``code:``, see
:data:`connectory.spec.collections.IMPLEMENTATION_KEYS`). Each kind turns a method and the
variables of one call into a :class:`~connectory.collections.kinds.base.MethodRunner`
result. To add a kind, write a module here with a runner class and add it to
:data:`RUNNERS`.
"""

from __future__ import annotations

from connectory.collections.kinds.base import Fetched, MethodRunner, RunnerContext
from connectory.collections.kinds.javascript import JavaScriptRunner
from connectory.collections.kinds.operation import OperationRunner
from connectory.collections.kinds.request import InlineRequestRunner
from connectory.spec.collections import CollectionMethodSpec

#: The runner class of each implementation kind (see ``CollectionMethodSpec.kind``).
RUNNERS: dict[str, type[MethodRunner]] = {
    "operation": OperationRunner,
    "request": InlineRequestRunner,
    "javascript": JavaScriptRunner,
}


def create_runner(method: CollectionMethodSpec, context: RunnerContext) -> MethodRunner:
    """Return the runner for *method*'s implementation kind."""
    return RUNNERS[method.kind](method, context)


__all__ = ["RUNNERS", "Fetched", "MethodRunner", "RunnerContext", "create_runner"]
