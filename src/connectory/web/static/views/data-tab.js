// The Data tab: define collections (fields schema, method -> operation) and test each method.
import { api, announce, showError } from "../api.js";
import { emptyState, field, h, mount } from "../dom.js";
import { fieldsForm, readFields } from "../forms.js";
import { readRecordForm, recordForm, recordsTable } from "./record-form.js";

const METHODS = ["list", "find_by_id", "match", "search", "create", "update", "delete"];
// Test credentials live in this module's memory only: never saved, never in storage.
const testCredentials = new Map();

function opName(op) { return op.operation || op.name; }

/** Ready the tab to show a problem at *path* (``collections[2].methods.list.operation``). */
export function selectCollection(state, path) {
  const match = /^collections\[(\d+)\]/.exec(path || "");
  if (match && Number(match[1]) < (state.doc.collections || []).length) state.dataIndex = Number(match[1]);
}

export function renderData(panel, state, ctx) {
  const doc = state.doc;
  doc.collections ??= [];
  const rerender = () => { panel.replaceChildren(); renderData(panel, state, ctx); };
  state.dataIndex = Math.min(state.dataIndex ?? 0, Math.max(doc.collections.length - 1, 0));
  const add = () => {
    const key = prompt("Key of the new collection (lowercase letters, digits, _ and -):", "records");
    if (!key) return;
    doc.collections.push({ key: key.trim(), name: key.trim(), fields_schema: { type: "object", properties: {} }, methods: {} });
    state.dataIndex = doc.collections.length - 1;
    ctx.markDirty();
    rerender();
  };
  const tabs = h("div", { class: "actions", role: "group", "aria-label": "Collections" },
    doc.collections.map((c, i) => h("button", { type: "button", class: i === state.dataIndex ? "primary" : "",
      "aria-pressed": String(i === state.dataIndex), onclick: () => { state.dataIndex = i; rerender(); } }, c.name || c.key)),
    h("button", { type: "button", onclick: add }, "Add collection"));
  panel.append(h("p", { class: "help" }, "A collection reads and writes one kind of record in one shape, whatever the API's. ",
    "Each method uses an operation of this connector (or an inline request or a JavaScript method, edited in the YAML view and Hooks & Methods)."), tabs);
  const collection = doc.collections[state.dataIndex];
  if (!collection) { panel.append(emptyState("No collections yet.")); return; }
  const at = `collections[${state.dataIndex}]`;
  const text = (key, label, opts = {}) => {
    const input = h("input", { value: collection[key] ?? "", onchange: () => { collection[key] = input.value.trim() || undefined; ctx.markDirty(); } });
    return field(label, input, { path: `${at}.${key}`, ...opts });
  };
  const schemaText = h("textarea", { rows: 12, spellcheck: false, class: "code" }, JSON.stringify(collection.fields_schema ?? { type: "object" }, null, 2));
  const schemaError = h("p", { class: "error-text", "aria-live": "polite" });
  schemaText.addEventListener("change", () => {
    try {
      const parsed = JSON.parse(schemaText.value);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("the fields schema must be a JSON object");
      collection.fields_schema = parsed;
      schemaError.textContent = "";
      ctx.markDirty();
    } catch (error) { schemaError.textContent = `Not saved: ${error.message}`; }
  });
  const ops = (doc.operations || []).map(opName);
  collection.methods ??= {};
  const methodRows = METHODS.map((name) => {
    const method = collection.methods[name];
    if (method && method.operation === undefined) {
      const code = method.code === undefined ? null : (typeof method.code === "string" ? method.code : `${method.code.file}#${method.code.export || "default"}`);
      const what = code ? `JavaScript method ${code} (edit in Hooks & Methods)` : "inline request (edit in the YAML view)";
      return h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, what));
    }
    const select = h("select", { "aria-label": `Operation of ${name}`, "data-path": `${at}.methods.${name}.operation`, onchange: () => {
      if (!select.value) delete collection.methods[name];
      else collection.methods[name] = { ...(collection.methods[name] || {}), operation: select.value };
      ctx.markDirty();
    } }, h("option", { value: "" }, "(not supported)"), ops.map((op) => h("option", { value: op, selected: method?.operation === op }, op)));
    return h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, select));
  });
  const remove = () => {
    if (!confirm(`Remove collection ${collection.key}?`)) return;
    doc.collections.splice(state.dataIndex, 1);
    state.dataIndex = 0;
    ctx.markDirty();
    rerender();
  };
  panel.append(h("div", { class: "form-grid" }, text("key", "Key", { required: true, help: "Lowercase letters, digits, _ and -." }),
    text("name", "Name"), h("div", { class: "wide" }, text("description", "Description"))),
    h("h2", {}, "Fields schema"),
    h("p", { class: "help" }, "JSON Schema of a record's fields; mark fields readOnly or writeOnly. ",
      "A shared schema is referenced with {\"$ref\": \"#/schemas/Name\"}."),
    field("Fields schema (JSON)", schemaText, { path: `${at}.fields_schema` }), schemaError,
    h("h2", {}, "Methods"),
    h("table", { class: "grid" }, h("tbody", {}, methodRows)),
    h("p", { class: "help" }, "Filters, match fields and input/output mappings are edited in the YAML view."),
    h("div", { class: "actions" }, h("button", { type: "button", class: "danger", onclick: remove }, "Remove collection")),
    testSection(collection, state, ctx));
}

function testSection(collection, state, ctx) {
  const box = h("section", { class: "card", "aria-label": "Test the collection" }, h("h2", {}, "Test"));
  if (!state.id || !state.canEdit) { box.append(emptyState("Create the draft first, then test its collections here.")); return box; }
  const remembered = testCredentials.get(state.id) || {};
  const creds = fieldsForm(state.doc.auth?.credential_schema || {}, { prefix: "datacred" });
  for (const input of creds.querySelectorAll("[data-name]")) if (remembered[input.dataset.name] !== undefined) input.value = remembered[input.dataset.name];
  const defined = Object.keys(collection.methods || {});
  const method = h("select", { id: "data-method" }, ["describe", ...METHODS.filter((m) => defined.includes(m))].map((m) => h("option", { value: m }, m)));
  const idInput = h("input", { id: "data-id" });
  const queryInput = h("input", { id: "data-query" });
  const filtersInput = h("textarea", { id: "data-filters", rows: 2, spellcheck: false }, "{}");
  const fieldsBox = h("div", {});
  const inputs = h("div", {});
  const showInputs = () => {
    const m = method.value;
    mount(inputs,
      ["find_by_id", "update", "delete"].includes(m) ? field("Record id", idInput) : null,
      m === "search" ? field("Search text", queryInput) : null,
      m === "list" ? field("Filters (JSON)", filtersInput) : null,
      ["create", "update", "match"].includes(m) ? fieldsBox : null);
    const schema = { ...(collection.fields_schema || {}), $defs: { ...(state.doc.schemas || {}), ...(collection.fields_schema?.$defs || {}) } };
    mount(fieldsBox, recordForm(schema, { prefix: "datafield", requireRequired: m === "create" }));
  };
  method.addEventListener("change", showInputs);
  showInputs();
  const out = h("div", { class: "test-out", "aria-live": "polite" });
  const run = async (event) => {
    event.preventDefault();
    testCredentials.set(state.id, readFields(creds));
    if (state.dirty && !(await ctx.save())) return;
    let filters = {};
    try { filters = JSON.parse(filtersInput.value || "{}"); } catch { announce("Filters must be a JSON object.", "error"); return; }
    mount(out, h("p", {}, "Running…"));
    try {
      const result = await api("POST", `/connectors/${state.id}/draft/collections/run`, {
        collection: collection.key, method: method.value, credentials: readFields(creds),
        id: idInput.value || null, query: queryInput.value || null, filters,
        fields: readRecordForm(fieldsBox), page_size: method.value === "list" ? 10 : null });
      mount(out, runView(result));
      announce(result.error ? `${method.value}: ${result.error}` : `${method.value}: ${result.records.length} record(s)`, result.error ? "error" : "info");
    } catch (error) { mount(out, h("p", { class: "error-text" }, `✗ ${error.message}`)); showError(error); }
  };
  box.append(h("form", { onsubmit: run }, h("div", { class: "split even" },
    h("fieldset", {}, h("legend", {}, "Test credentials (this session only, never saved)"), creds),
    h("fieldset", {}, h("legend", {}, "Method"), field("Method", method), inputs)),
    h("button", { type: "submit", class: "primary" }, "Run")), out);
  return box;
}

function runView(result) {
  return h("div", {},
    result.error ? h("p", { class: "error-text" }, `✗ ${result.error_code}: ${result.error}`) : null,
    h("h3", {}, `Calls made (${result.calls.length})`),
    h("table", { class: "grid" }, h("tbody", {}, result.calls.map((c) => h("tr", {},
      h("td", {}, c.method), h("td", {}, c.status_code ?? "—"), h("td", { class: "url" }, c.url))))),
    result.spec ? h("details", { open: true }, h("summary", {}, "Collection spec on this connection"),
      h("pre", { class: "code" }, JSON.stringify(result.spec, null, 2))) : null,
    result.spec ? null : h("h3", {}, `Records (${result.records.length})`),
    result.spec ? null : recordsTable(result.records),
    result.records.length ? h("details", {}, h("summary", {}, "Records as JSON (with raw)"),
      h("pre", { class: "code" }, JSON.stringify(result.records, null, 2))) : null,
    result.cursor ? h("p", { class: "muted" }, "More pages: the listing returned a cursor.") : null);
}
