"""V8's process-wide start-up, done once before the first isolate: the flags Connectory needs.

mini-racer initialises V8 with its default flags the first time an isolate is made, unless
:func:`py_mini_racer.init_mini_racer` ran first with others. Connectory adds one:

``--no-memory-protection-keys``: on CPUs with memory protection keys (``pku`` in
/proc/cpuinfo, e.g. recent Intel Xeons), V8 guards its code pages with a key that each thread
must be granted. mini-racer runs every isolate on a thread of its own, and with the keys on,
creating an isolate's context while another isolate runs on its thread crashes the whole
process (SIGSEGV, a protection-key fault inside libmini_racer). The keys are a hardening of
V8's JIT memory (write-protecting code pages) inside one process; the sandbox's boundaries
(one isolate per tenant, time and memory limits, worker processes for untrusted code) do not
depend on them.
"""

from __future__ import annotations

import threading

CONNECTORY_V8_FLAGS = ("--no-memory-protection-keys",)

_lock = threading.Lock()
_done = False


def init_v8() -> None:
    """Start V8 with mini-racer's default flags plus Connectory's, once per process.

    Harmless when something else in the process initialised mini-racer first (its flags
    then stay in force).
    """
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        from py_mini_racer import DEFAULT_V8_FLAGS, init_mini_racer

        init_mini_racer(flags=(*DEFAULT_V8_FLAGS, *CONNECTORY_V8_FLAGS), ignore_duplicate_init=True)
        _done = True
