"""Validation of connector code: compile every file, check exports and credential reads.

:func:`check_code` is what ``connectory validate`` and the API's saves run on top of the spec
loader. Compiling needs V8 but never runs the code: each file is compiled as a function that
is not called. It is synchronous and starts its own short-lived isolate, so call it from a
worker thread in async code (the API's checks already run in one).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from connectory.errors import Problem
from connectory.js.module import ModuleSource, transform_module
from connectory.js.stacks import locate_parse_error, locate_uncaught
from connectory.spec.code import CodeRefSpec
from connectory.spec.connector import ConnectorSpec
from connectory.spec.source import format_path

#: Seconds one file may take to compile (a megabyte compiles in milliseconds).
_COMPILE_TIME = 10.0
_COMPILE_MEMORY = 128 * 1024 * 1024


def check_code(spec: ConnectorSpec, *, report_missing: bool = True) -> list[Problem]:
    """Problems of the connector's code files (attached to *spec*) and references to them.

    * syntax errors with file:line:col (V8's message), ``import`` and unsupported exports;
    * references to a missing file (when *report_missing*) or to an export the file lacks;
    * literal reads of credentials the references do not declare (errors), and computed
      reads (``ctx.credentials[name]``, ``...rest``; warnings: only declared fields are present
      at run time, whatever the name).

    Returns:
        The problems, errors and warnings; empty when the connector has no code.
    """
    refs = spec.code_refs()
    if not spec.code_files and not refs:
        return []
    modules, problems = _checked_modules(spec.code_files)
    declared: dict[str, set[str]] = {}
    for path, ref in refs:
        declared.setdefault(ref.file, set()).update(ref.credentials)
        problems += _check_ref(format_path(path), ref, modules, report_missing)
    for file, names in declared.items():
        module = modules.get(file)
        if module is not None:
            problems += _check_reads(module, names)
    return problems


def check_code_files(files: dict[str, str]) -> list[Problem]:
    """Problems of code files on their own: syntax, imports, unsupported exports.

    For a connector whose spec has errors (so references cannot be checked yet).
    """
    return _checked_modules(files)[1]


def _checked_modules(files: dict[str, str]) -> tuple[dict[str, ModuleSource], list[Problem]]:
    modules = {path: transform_module(path, text) for path, text in sorted(files.items())}
    problems: list[Problem] = []
    for module in modules.values():
        problems += module.problems
    problems += _compile(module for module in modules.values() if not module.problems)
    return modules, problems


def _check_ref(
    where: str, ref: CodeRefSpec, modules: dict[str, ModuleSource], report_missing: bool
) -> Iterator[Problem]:
    module = modules.get(ref.file)
    if module is None:
        if report_missing:
            yield Problem(
                f"the file {ref.file} does not exist; create it or fix the reference", where
            )
        return
    if module.problems or ref.export in module.exports:
        return
    exports = ", ".join(module.exports) or "none"
    written = (
        "export default function (ctx) { ... }"
        if ref.export == "default"
        else f"export function {ref.export}(ctx) {{ ... }}"
    )
    yield Problem(
        f"{where} calls export '{ref.export}', which the file does not have (its exports: "
        f"{exports}); write {written}",
        file=ref.file,
        line=1,
        column=1,
    )


def _check_reads(module: ModuleSource, declared: set[str]) -> Iterator[Problem]:
    for read in module.credential_reads:
        if read.name is None:
            yield Problem(
                "reads a credential by a computed name: only the credentials declared for this "
                "file's hooks or methods are present at run time",
                file=module.file,
                line=read.line,
                column=read.column,
                severity="warning",
            )
        elif read.name not in declared:
            listing = ", ".join(sorted(declared)) or "none"
            yield Problem(
                f"reads credential '{read.name}', which is not declared for this file (declared: "
                f"{listing}); add it to the credentials: list of the hook or method",
                file=module.file,
                line=read.line,
                column=read.column,
            )


def _compile(modules: Iterator[ModuleSource]) -> list[Problem]:
    pending = list(modules)
    if not pending:
        return []
    # mini-racer binds an isolate to the event loop running in its thread; a thread of its own
    # keeps validation usable from anywhere (async callers should still call from a worker
    # thread: compiling takes tens of milliseconds).
    with ThreadPoolExecutor(1, thread_name_prefix="connectory-js-check") as executor:
        return executor.submit(_compile_here, pending).result()


def _compile_here(pending: list[ModuleSource]) -> list[Problem]:
    from py_mini_racer import (
        JSEvalException,
        JSOOMException,
        JSParseException,
        JSTimeoutException,
        MiniRacer,
    )

    from connectory.js.v8_flags import init_v8

    init_v8()
    problems: list[Problem] = []
    with MiniRacer() as racer:
        racer.set_hard_memory_limit(_COMPILE_MEMORY)
        for module in pending:
            try:
                racer.eval(module.compile_script(), timeout_sec=_COMPILE_TIME)
            except JSParseException as error:
                located = locate_parse_error(str(error), module.file)
                problems.append(
                    Problem(
                        located.headline, file=module.file, line=located.line, column=located.column
                    )
                )
            except (JSTimeoutException, JSOOMException):
                problems.append(
                    Problem("the file is too large or complex to compile", file=module.file)
                )
            except JSEvalException as error:
                located = locate_uncaught(str(error), [module.file])
                problems.append(
                    Problem(
                        located.headline, file=module.file, line=located.line, column=located.column
                    )
                )
    return problems
