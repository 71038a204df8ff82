// The Test tab: run operations of the saved draft with session-only test credentials.
import { api, announce, showError } from "../api.js";
import { badge, emptyState, field, h, mount } from "../dom.js";
import { announceResult, fieldsForm, parametersForm, readFields, resultPassed, resultView, scriptErrorView } from "../forms.js";
import { collectionReadView, readView } from "./test-read.js";

// Test credentials live in this module's memory only: never saved, never in storage.
const testCredentials = new Map();
/** The last "test" outcome per connector id, for the publish checklist. */
export const lastTests = new Map();
/** The last Send per connector id (operation index, parameters, answer): shown again after a re-render. */
const lastRuns = new Map();

function opName(op) { return op.operation || op.name; }

/**
 * The parameters "Test every operation" sends: a value typed in the Test form (*typed*) first,
 * else for a required parameter without a default its example, else its first allowed value.
 * A required parameter with none of these is *missing* (the operation is skipped, saying so).
 */
export function autoParams(op, typed = {}) {
  const params = {};
  const missing = [];
  for (const p of op.parameters || []) {
    if (typed[p.name] !== undefined) { params[p.name] = typed[p.name]; continue; }
    if (!p.required || (p.default !== undefined && p.default !== null)) continue;
    if (p.example !== undefined && p.example !== null) params[p.name] = p.example;
    else if (Array.isArray(p.enum) && p.enum.length) params[p.name] = p.enum[0];
    else missing.push(p.name);
  }
  return { params, missing };
}

/** Why an operation is skipped: which required parameters have nothing to send, and the fix. */
export function skipReason(missing) {
  return `skipped: needs parameters (${missing.join(", ")}): no value, default, example or allowed value to send; ` +
    "give each an example in the Operations tab (or type a value here for the selected operation)";
}

export function renderTest(panel, state, ctx) {
  if (!state.id) { panel.append(emptyState("Create the draft first (Create draft), then test it here.")); return; }
  if (!state.canEdit) { panel.append(emptyState("Only the connector's editors can run test calls.")); return; }
  const ops = state.doc.operations || [];
  if (!ops.length) { panel.append(emptyState("Add an operation first.")); return; }
  const remembered = testCredentials.get(state.id) || {};
  const creds = fieldsForm(state.doc.auth?.credential_schema || {}, { prefix: "testcred" });
  for (const input of creds.querySelectorAll("[data-name]")) {
    if (remembered[input.dataset.name] !== undefined) input.value = remembered[input.dataset.name];
  }
  // Collections with a list method are read too: their first page, as a connection lists it.
  const collections = (state.doc.collections || []).filter((c) => c?.key && c.methods?.list);
  const select = h("select", { id: "test-op" }, ops.map((op, i) => h("option", { value: String(i) }, `${op.method || "GET"} ${opName(op)}`)),
    collections.length ? h("optgroup", { label: "Collections (first page of list)" },
      collections.map((c, i) => h("option", { value: `c:${i}` }, `list ${c.key}`))) : null);
  const collectionOf = (value) => (value.startsWith("c:") ? collections[Number(value.slice(2))] : null);
  const lastRun = lastRuns.get(state.id);
  const lastFits = lastRun && [...select.options].some((o) => o.value === lastRun.value);
  if (lastFits) select.value = lastRun.value;
  const paramsBox = h("div", {});
  const allPages = h("input", { type: "checkbox", id: "test-all-pages" });
  const pageSize = h("input", { type: "number", id: "test-page-size", min: "1", max: "50", inputMode: "numeric", placeholder: "the list's default" });
  const showParams = () => {
    if (collectionOf(select.value)) {
      mount(paramsBox, field("Page size", pageSize, { help: "Records on the first page (up to 50)." }));
      allPages.disabled = true;
      return;
    }
    allPages.disabled = false;
    const op = ops[Number(select.value)];
    mount(paramsBox, parametersForm(op.parameters, "testparam"));
    // A required parameter without a default starts with its example: what a test sends.
    for (const p of op.parameters || []) {
      const input = [...paramsBox.querySelectorAll("[data-name]")].find((el) => el.dataset.name === p.name);
      if (!input || !p.required || input.value !== "" || p.example === undefined || p.example === null) continue;
      if (input.type === "checkbox") input.checked = p.example === true;
      else input.value = typeof p.example === "string" ? p.example : JSON.stringify(p.example);
    }
  };
  select.addEventListener("change", showParams);
  showParams();
  const out = h("div", { class: "test-out", "aria-live": "polite" });
  // The answer, what was read (records, pages, the inferred schema) and "Save as test case".
  const showRun = (op, params, pages, result) => {
    const answer = resultView({ ...result, pages: null }, { hasSchema: !!op.response_schema });
    const read = readView(result, op, state, ctx);
    // With records to read in a table, the raw body is one click away rather than in the way.
    if (read) for (const box of answer.querySelectorAll("details[open]")) if (box.querySelector(".body")) box.open = false;
    mount(out, result.note ? h("p", { class: "help run-note" }, `ℹ ${result.note}`) : null, answer, read,
      saveCaseControls(op, params, pages, result));
  };

  const remember = () => { testCredentials.set(state.id, readFields(creds)); };
  async function ensureSaved() {
    if (state.dirty) return ctx.save();
    return true;
  }
  async function run(op, params, pages) {
    return api("POST", `/connectors/${state.id}/draft/run`, {
      operation: opName(op), params, credentials: readFields(creds), all_pages: pages, max_pages: 20 });
  }
  // "Save as test case": the same call again, recorded (secrets scrubbed) into the draft's
  // tests/ as a case that `connectory test` replays offline (docs/recorded-tests.md).
  function saveCaseControls(op, params, pages, result) {
    const name = h("input", { type: "text", id: "test-case-name", value: `${opName(op)} ${result.status_code}` });
    const status = h("p", { class: "help", "aria-live": "polite" });
    const expectation = pages ? {} : { status: result.status_code, ...(op.response_schema ? { schema: true } : {}) };
    const save = async () => {
      status.textContent = "Recording…";
      try {
        const saved = await api("POST", `/connectors/${state.id}/draft/test-cases`, {
          case: { name: name.value.trim() || opName(op), operation: opName(op), params, all_pages: pages, expect: expectation },
          credentials: readFields(creds) });
        const text = `Saved test case "${saved.name}": ${saved.requests} request(s) recorded, ${saved.outcome}; in ${saved.files.join(", ")}.`;
        status.textContent = text;
        announce(text, saved.outcome === "failed" ? "error" : "info");
      } catch (error) {
        status.textContent = `✗ ${error.message}`;
        showError(error);
      }
    };
    return h("section", { class: "save-case", "aria-label": "Save as test case" },
      h("div", { class: "field inline" }, h("label", { for: "test-case-name" }, "Test case name"), name,
        h("button", { type: "button", onclick: save }, "Save as test case")), status);
  }
  const send = async (event) => {
    event.preventDefault();
    remember();
    if (!(await ensureSaved())) return;
    const collection = collectionOf(select.value);
    if (collection) { await readCollection(collection); return; }
    const op = ops[Number(select.value)];
    mount(out, h("p", {}, "Sending…"));
    try {
      const params = readFields(paramsBox);
      const result = await run(op, params, allPages.checked);
      lastTests.set(state.id, { passed: resultPassed(result), at: new Date(), what: opName(op) });
      lastRuns.set(state.id, { value: select.value, params, pages: allPages.checked, result });
      showRun(op, params, allPages.checked, result);
      announceResult(opName(op), result);
    } catch (error) {
      lastTests.set(state.id, { passed: false, at: new Date(), what: opName(op) });
      mount(out, error.script ? scriptErrorView(error.script) : h("p", { class: "error-text" }, `✗ ${error.message}`));
      showError(error);
    }
  };
  async function readCollection(collection) {
    mount(out, h("p", {}, "Reading…"));
    try {
      const read = await api("POST", `/connectors/${state.id}/draft/collection-read`, {
        collection: collection.key, credentials: readFields(creds), page_size: pageSize.value ? Number(pageSize.value) : null });
      lastTests.set(state.id, { passed: !read.error, at: new Date(), what: `list ${collection.key}` });
      lastRuns.set(state.id, { value: select.value, collection: true, result: read });
      mount(out, collectionReadView(read, collection, state, ctx));
      announce(read.error ? `list ${collection.key} failed: ${read.error}` : `list ${collection.key}: ${read.records.length} record(s).`, read.error ? "error" : "info");
    } catch (error) {
      lastTests.set(state.id, { passed: false, at: new Date(), what: `list ${collection.key}` });
      mount(out, h("p", { class: "error-text" }, `✗ ${error.message}`));
      showError(error);
    }
  }
  const testAll = async () => {
    remember();
    if (!(await ensureSaved())) return;
    mount(out, h("p", {}, "Testing every operation…"));
    const rows = [];
    const selected = collectionOf(select.value) ? null : ops[Number(select.value)];
    for (const op of ops) {
      const { params, missing } = autoParams(op, op === selected ? readFields(paramsBox) : {});
      if (missing.length) { rows.push([opName(op), "skip", skipReason(missing)]); continue; }
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
  if (lastFits && lastRun.collection) {
    mount(out, collectionReadView(lastRun.result, collectionOf(lastRun.value), state, ctx));
  } else if (lastFits) {
    allPages.checked = lastRun.pages;
    showRun(ops[Number(lastRun.value)], lastRun.params, lastRun.pages, lastRun.result);
  }
  panel.append(h("form", { class: "test-form", onsubmit: send },
    h("div", { class: "split even" },
      h("fieldset", {}, h("legend", {}, "Test credentials (this session only, never saved)"), creds),
      h("fieldset", {}, h("legend", {}, "Operation"), field("Operation", select), paramsBox,
        h("div", { class: "field inline" }, allPages, h("label", { for: "test-all-pages" }, "Read every page (up to 20)")))),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Send"),
      h("button", { type: "button", onclick: testAll }, "Test every operation"),
      state.dirty ? h("span", { class: "help" }, "Unsaved changes are saved to the draft before the call.") : null)), out);
}
