// The Test tab: run operations of the saved draft with session-only test credentials.
import { api, announce, showError } from "../api.js";
import { badge, field, h, mount } from "../dom.js";
import { announceResult, fieldsForm, parametersForm, readFields, resultPassed, resultView, scriptErrorView } from "../forms.js";

// Test credentials live in this module's memory only: never saved, never in storage.
const testCredentials = new Map();
/** The last "test" outcome per connector id, for the publish checklist. */
export const lastTests = new Map();

function opName(op) { return op.operation || op.name; }

/**
 * The parameters "Test every operation" sends: a required parameter without a default takes
 * its example or first enum value; one with neither is *missing* (the operation is skipped).
 */
export function autoParams(op) {
  const params = {};
  const missing = [];
  for (const p of op.parameters || []) {
    if (!p.required || (p.default !== undefined && p.default !== null)) continue;
    if (p.example !== undefined && p.example !== null) params[p.name] = p.example;
    else if (Array.isArray(p.enum) && p.enum.length) params[p.name] = p.enum[0];
    else missing.push(p.name);
  }
  return { params, missing };
}

export function renderTest(panel, state, ctx) {
  if (!state.id) { panel.append(h("p", { class: "empty" }, "Create the draft first (Create draft), then test it here.")); return; }
  if (!state.canEdit) { panel.append(h("p", { class: "empty" }, "Only the connector's editors can run test calls.")); return; }
  const ops = state.doc.operations || [];
  if (!ops.length) { panel.append(h("p", { class: "empty" }, "Add an operation first.")); return; }
  const remembered = testCredentials.get(state.id) || {};
  const creds = fieldsForm(state.doc.auth?.credential_schema || {}, { prefix: "testcred" });
  for (const input of creds.querySelectorAll("[data-name]")) {
    if (remembered[input.dataset.name] !== undefined) input.value = remembered[input.dataset.name];
  }
  const select = h("select", { id: "test-op" }, ops.map((op, i) => h("option", { value: String(i) }, `${op.method || "GET"} ${opName(op)}`)));
  const paramsBox = h("div", {});
  const showParams = () => mount(paramsBox, parametersForm(ops[Number(select.value)].parameters, "testparam"));
  select.addEventListener("change", showParams);
  showParams();
  const allPages = h("input", { type: "checkbox", id: "test-all-pages" });
  const out = h("div", { class: "test-out", "aria-live": "polite" });

  const remember = () => { testCredentials.set(state.id, readFields(creds)); };
  async function ensureSaved() {
    if (state.dirty) return ctx.save();
    return true;
  }
  async function run(op, params, pages) {
    return api("POST", `/connectors/${state.id}/draft/run`, {
      operation: opName(op), params, credentials: readFields(creds), all_pages: pages, max_pages: 20 });
  }
  const send = async (event) => {
    event.preventDefault();
    remember();
    if (!(await ensureSaved())) return;
    const op = ops[Number(select.value)];
    mount(out, h("p", {}, "Sending…"));
    try {
      const result = await run(op, readFields(paramsBox), allPages.checked);
      lastTests.set(state.id, { passed: resultPassed(result), at: new Date(), what: opName(op) });
      mount(out, resultView(result, { hasSchema: !!op.response_schema }));
      announceResult(opName(op), result);
    } catch (error) {
      lastTests.set(state.id, { passed: false, at: new Date(), what: opName(op) });
      mount(out, error.script ? scriptErrorView(error.script) : h("p", { class: "error-text" }, `✗ ${error.message}`));
      showError(error);
    }
  };
  const testAll = async () => {
    remember();
    if (!(await ensureSaved())) return;
    mount(out, h("p", {}, "Testing every operation…"));
    const rows = [];
    for (const op of ops) {
      const { params, missing } = autoParams(op);
      if (missing.length) { rows.push([opName(op), "skip", `skipped: needs parameters (${missing.join(", ")})`]); continue; }
      try {
        const result = await run(op, params, false);
        const ok = resultPassed(result);
        rows.push([opName(op), ok ? "pass" : "fail", `HTTP ${result.status_code}${result.schema_mismatches.length ? `, ${result.schema_mismatches.length} schema mismatch(es)` : ""}`]);
      } catch (error) { rows.push([opName(op), "fail", error.message]); }
    }
    const count = (kind) => rows.filter((r) => r[1] === kind).length;
    const [passed, failed, skipped] = [count("pass"), count("fail"), count("skip")];
    const summary = `${passed} passed, ${failed} failed, ${skipped} skipped`;
    lastTests.set(state.id, { passed: failed === 0 && passed > 0, at: new Date(), what: "every operation" });
    const BADGES = { pass: ["✓ pass", "ok"], fail: ["✗ fail", "bad"], skip: ["– skipped", "neutral"] };
    mount(out, h("section", { "aria-label": "Test summary" }, h("h3", {}, summary),
      h("table", { class: "grid" }, h("tbody", {}, rows.map(([name, kind, detail]) => h("tr", {},
        h("td", {}, name), h("td", {}, badge(...BADGES[kind])), h("td", {}, detail)))))));
    announce(`${summary}.`, failed ? "error" : "info");
  };
  panel.append(h("form", { class: "test-form", onsubmit: send },
    h("div", { class: "split even" },
      h("fieldset", {}, h("legend", {}, "Test credentials (this session only, never saved)"), creds),
      h("fieldset", {}, h("legend", {}, "Operation"), field("Operation", select), paramsBox,
        h("div", { class: "field inline" }, allPages, h("label", { for: "test-all-pages" }, "Read every page (up to 20)")))),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Send"),
      h("button", { type: "button", onclick: testAll }, "Test every operation"),
      state.dirty ? h("span", { class: "help" }, "Unsaved changes are saved to the draft before the call.") : null)), out);
}
