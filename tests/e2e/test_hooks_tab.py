"""The builder's Hooks & Methods tab in chromium: write a hook, see its compile error at
line:column, attach it, and watch it work in the Test tab (request before/after, its log)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from .conftest import Live, check_a11y, set_code, shoot

BROKEN = "export default function (ctx) {\n  const x = ;\n}\n"
FIXED = (
    "export default function (ctx) {\n"
    "  ctx.request.headers['X-Hooked'] = 'yes';\n"
    "  ctx.log('hooked', ctx.request.path);\n"
    "}\n"
)


def test_write_attach_and_run_a_hook(page_for: Any, live: Live) -> None:
    page = page_for("platform")
    page.get_by_role("button", name="Create connector").click()
    page.get_by_label("Name").fill("Hooked Echo")
    page.get_by_label("Base URL").fill(live.test_api)
    page.get_by_role("tab", name="Operations").click()
    page.get_by_role("button", name="Add operation").click()
    page.get_by_label("Operation name").fill("echo")
    page.get_by_label(re.compile(r"^Path")).fill("/echo")

    page.get_by_role("tab", name="Hooks & Methods").click()
    page.get_by_label("File name").fill("tag.js")
    page.get_by_role("button", name="New file").click()
    set_code(page, "code-editor", BROKEN)
    page.get_by_role("button", name="Add a pre-request hook").first.click()
    page.get_by_role("button", name="Create draft").click()

    # The compile error is shown in the Hooks tab at its line and column.
    page.get_by_role("tab", name=re.compile("Hooks & Methods")).click()
    problems = page.locator("#code-problems")
    expect(problems).to_contain_text("line 2:13")
    expect(problems).to_contain_text("SyntaxError: Unexpected token ';'")
    # ... and marked in the editor at that line (CodeMirror, when the bundle is built).
    second = page.locator("#code-editor .cm-line").nth(1)
    expect(second).to_have_text("  const x = ;")
    expect(second.locator(".cm-lintRange-error")).to_have_count(1)
    check_a11y(page, "Hooks & Methods tab with a compile error")
    shoot(page, live, "hooks-error")

    set_code(page, "code-editor", FIXED)
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_text("Created Hooked Echo")).to_be_visible()
    page.get_by_role("tab", name="Hooks & Methods").click()
    expect(page.locator("#code-problems")).to_contain_text("no problems found")
    shoot(page, live, "hooks")

    page.get_by_role("tab", name="Test").click()
    page.get_by_role("button", name="Send").click()
    result = page.get_by_label("Result")
    expect(result).to_contain_text("HTTP 200")
    expect(result.get_by_text("Request before hooks")).to_be_visible()
    expect(result.get_by_text("JavaScript log (1)")).to_be_visible()
    expect(result).to_contain_text("hooks/tag.js:3:7  hooked /echo")
    expect(result).to_contain_text('"x-hooked": "yes"')  # the echo saw the hook's header
    shoot(page, live, "hooks-test")
