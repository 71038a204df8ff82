"""Connector JavaScript: hooks and methods, run sandboxed in V8 (mini-racer).

The pieces, bottom up:

* :mod:`.module`: the one module shape (``export default async function (ctx) {...}``) and
  its line-preserving transform into a script; ``import`` is refused.
* :mod:`.host`: V8 isolates, in this process or in worker processes (:mod:`.worker`).
* :mod:`.pool`: instances per (tenant, code bundle), with a cap; code compiled once each.
* :mod:`.invocation`: one run, from the call to the result, through apiClient requests and
  timers; time, memory, output, log and call limits; errors mapped to file:line.
* :class:`JsEngine`: what a process holds (one per event loop).
* :func:`check_code`: validation (compile, exports, credential reads) for ``validate``.

**Running code.** Two public entry points sit in :mod:`connectory.runtime`, where a
connection's credentials, auth and resilience are: hooks run inside every request of a
:class:`~connectory.runtime.ConnectorClient`, and methods run through ONE call::

    value = await client.run_method(ref, parameters={...}, input={...})

``ref`` is a :class:`~connectory.spec.code.CodeRefSpec` (file, export, declared credentials);
the method gets ``ctx.parameters``, ``ctx.input``, ``ctx.apiClient`` (through the client's
runtime: auth, hooks, resilience, egress guard, origin check), ``ctx.credentials`` (declared
fields only), ``ctx.connectorParameters``, ``ctx.config``, ``ctx.log`` and ``ctx.utils``. It
returns the method's JSON value, or raises :class:`~connectory.errors.ScriptError` /
:class:`~connectory.errors.ScriptLimitError` (code) or another
:class:`~connectory.errors.ConnectoryError`. Operations with ``implementation:
javascript``, collections and events all call it.
"""

from connectory.js.bundle import CodeBundle, build_bundle
from connectory.js.checks import check_code, check_code_files
from connectory.js.engine import Isolation, JsCaps, JsEngine
from connectory.js.invocation import Bridge, RunLimits, RunOutcome, RunRequest

__all__ = [
    "Bridge",
    "CodeBundle",
    "Isolation",
    "JsCaps",
    "JsEngine",
    "RunLimits",
    "RunOutcome",
    "RunRequest",
    "build_bundle",
    "check_code",
    "check_code_files",
]
