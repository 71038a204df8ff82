// The Operations tab: the list of operations and the editor of the selected one.
import { emptyState, field, group, h } from "../dom.js";
import { boundField, retypeDefault, typedDefaultField } from "./bind.js";
import { isUnder } from "./problems.js";
import { treeOrJson } from "./schema-tree.js";
import { formatEnum, formatTyped, parseEnum, parseTyped } from "./values.js";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const LOCATIONS = ["query", "path", "header", "body"];
const PARAM_TYPES = ["string", "number", "integer", "boolean", "array", "object"];
const PAGINATION = {
  offset: ["offset_param", "limit_param", "page_size", "total_path", "total_header"],
  page_number: ["page_param", "size_param", "page_size", "start_page", "total_path"],
  cursor: ["cursor_param", "cursor_path", "cursor_header", "size_param", "page_size"],
  link_header: ["rel"],
  next_url: ["next_url_path"],
};
const NUMERIC = new Set(["page_size", "start_page", "max_pages"]);

function opName(op) { return op.operation || op.name || ""; }

/** Select the operation of a problem's path ("operations[2].path"), so the tab shows its field. */
export function selectOperation(state, path) {
  const match = /^operations\[(\d+)\]/.exec(path || "");
  if (match && Number(match[1]) < (state.doc.operations || []).length) state.selectedOp = Number(match[1]);
}

export function renderOperations(panel, state, ctx) {
  const ops = (state.doc.operations ??= []);
  state.selectedOp = Math.min(state.selectedOp ?? 0, Math.max(ops.length - 1, 0));
  const rerender = () => ctx.renderPanel();
  const failing = ctx.errors().map((p) => p.path || "");
  const add = () => {
    let n = ops.length + 1;
    while (ops.some((o) => opName(o) === `operation_${n}`)) n += 1;
    ops.push({ operation: `operation_${n}`, method: "GET", path: "/", parameters: [] });
    state.selectedOp = ops.length - 1;
    ctx.markDirty(); rerender();
    panel.querySelector(".op-editor input")?.focus();
  };
  const list = group("operations", {}, h("nav", { class: "op-list", "aria-label": "Operations" },
    h("ul", {}, ops.map((op, i) => h("li", {}, h("button", { type: "button", class: i === state.selectedOp ? "selected" : "",
      "aria-current": i === state.selectedOp ? "true" : undefined, onclick: () => { state.selectedOp = i; rerender(); } },
      h("span", { class: "method" }, op.method || "GET"), " ", opName(op) || "(unnamed)",
      failing.some((path) => isUnder(path, `operations[${i}]`)) ? [h("span", { class: "flag", "aria-hidden": "true" }, " ⚠"),
        h("span", { class: "sr-only" }, " (has problems)")] : null)))),
    h("button", { type: "button", class: "primary edit", onclick: add }, "Add operation")));
  const editor = ops.length ? operationEditor(ops, state.selectedOp, ctx, rerender)
    : emptyState("No operations yet.", "Add one: a method, a path, its parameters and a response schema.");
  panel.append(h("div", { class: "split" }, list, editor));
}

function operationEditor(ops, index, ctx, rerender) {
  const op = ops[index];
  const failing = (path) => ctx.errors().some((p) => isUnder(p.path || "", path));
  const at = `operations[${index}]`;
  const nameKey = "name" in op && !("operation" in op) ? "name" : "operation";
  op.parameters ??= [];
  const requestBody = op.request_body || {};
  const pagination = op.pagination || {};
  const pagingType = h("select", { id: `paging-${index}`, "data-path": `${at}.pagination.type` },
    h("option", { value: "" }, "none"), Object.keys(PAGINATION).map((t) => h("option", { value: t, selected: pagination.type === t }, t)));
  pagingType.addEventListener("change", () => {
    if (pagingType.value) op.pagination = { type: pagingType.value }; else delete op.pagination;
    ctx.markDirty(); rerender();
  });
  return group(at, { class: "op-editor" },
    h("div", { class: "form-grid" },
      boundField(ctx, op, nameKey, "Operation name", { path: `${at}.${nameKey}`, required: true, onchange: () => refreshList() }),
      boundField(ctx, op, "display_name", "Display name", { path: `${at}.display_name` }),
      boundField(ctx, op, "method", "Method", { kind: { options: METHODS, default: "GET" }, path: `${at}.method`, onchange: () => refreshList() }),
      boundField(ctx, op, "path", "Path", { path: `${at}.path`, required: true, placeholder: "/items/{id}", help: "Appended to the base URL; {name} is filled from a path parameter." }),
      boundField(ctx, op, "record_selector", "Record selector", { path: `${at}.record_selector`, placeholder: "data", help: "Where the records are in the response, e.g. data or result.items." }),
      h("div", { class: "wide" }, boundField(ctx, op, "description", "Description", { kind: "textarea", path: `${at}.description` }))),
    h("h3", {}, "Parameters"), parametersTable(op, at, ctx, rerender),
    op.parameters.length ? [h("h3", {}, "Parameter examples and allowed values"), parameterValues(op, at, ctx)] : null,
    h("h3", {}, "Headers"), headersEditor(op, at, ctx, rerender),
    h("h3", {}, "Pagination"),
    group(`${at}.pagination`, { class: "form-grid" }, h("div", { class: "field" }, h("label", { for: `paging-${index}` }, "Pagination type"), pagingType),
      (PAGINATION[pagination.type] || []).map((key) => boundField(ctx, op.pagination, key, key.replace(/_/g, " "),
        { path: `${at}.pagination.${key}`, kind: NUMERIC.has(key) ? "number" : "text" }))),
    h("h3", {}, "Schemas"),
    h("div", { class: "form-grid" },
      treeOrJson(boundField(ctx, op, "response_schema", "Response schema (JSON Schema)", { kind: "json", path: `${at}.response_schema`,
        help: "Checked against every test response; mismatches show their JSON path." }), () => op.response_schema,
      { store: (ctx.state.responseSchemaView ??= {}), label: "Response schema", hasProblems: failing(`${at}.response_schema`),
        unreadable: () => ctx.state.pending.get(op, "response_schema")?.message,
        onRef: (name) => { ctx.state.selectedSchema = name; ctx.show("schemas"); } }),
      boundField(ctx, requestBody, "schema", "Request body schema (JSON Schema)", { kind: "json", path: `${at}.request_body.schema`,
        // Until it holds a schema the request body is not in the document: its text is kept on the operation.
        pendingAt: [op, "request_body.schema"],
        onchange: () => { if (requestBody.schema) op.request_body = requestBody; else delete op.request_body; },
        help: "For POST/PUT/PATCH bodies built from body parameters." })),
    h("p", {}, h("button", { type: "button", class: "danger edit", onclick: () => {
      if (!confirm(`Delete the operation ${opName(op)}?`)) return;
      ops.splice(index, 1); ctx.markDirty(); rerender();
    } }, "Delete operation")));

  function refreshList() {
    const button = document.querySelector(".op-list button.selected");
    if (button) button.replaceChildren(h("span", { class: "method" }, op.method || "GET"), " ", opName(op) || "(unnamed)");
  }
}

function parametersTable(op, at, ctx, rerender) {
  const params = op.parameters;
  const rows = params.map((p, i) => {
    const path = `${at}.parameters[${i}]`;
    const cell = (key, label, opts = {}) => h("td", {}, boundField(ctx, p, key, `${label} of parameter ${i + 1}`, { ...opts, path: `${path}.${key}` }));
    const defaultLabel = `Default of parameter ${i + 1}`;
    // A new type changes what the default is (50 or "50") and how it is edited (a choice for booleans).
    const retype = () => {
      retypeDefault(ctx, p, defaultLabel);
      retypeValue(ctx, p, "example", `Example of parameter ${i + 1}`, (text) => parseTyped(text, p.type || "string"), formatTyped);
      retypeValue(ctx, p, "enum", `Allowed values of parameter ${i + 1}`, (text) => parseEnum(text, p.type || "string"), formatEnum);
      rerender();
    };
    return h("tr", {}, cell("name", "Name", { required: true }), cell("location", "Location", { kind: { options: LOCATIONS, default: "query" } }),
      cell("type", "Type", { kind: { options: PARAM_TYPES, default: "string" }, onchange: retype }), cell("required", "Required", { kind: "checkbox" }),
      h("td", {}, typedDefaultField(ctx, p, defaultLabel, `${path}.default`)), cell("description", "Description"),
      h("td", {}, h("button", { type: "button", class: "danger edit", onclick: () => { params.splice(i, 1); ctx.markDirty(); rerender(); } },
        "Remove", h("span", { class: "sr-only" }, ` parameter ${p.name || i + 1}`))));
  });
  return group(`${at}.parameters`, {}, h("table", { class: "grid edit-table parameters" },
    h("thead", {}, h("tr", {}, ["Name", "Location", "Type", "Required", "Default", "Description", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 7, class: "empty-cell" }, "No parameters.")))),
    h("button", { type: "button", class: "edit", onclick: () => {
      params.push({ name: "", location: "query", type: "string", required: false });
      ctx.markDirty(); rerender();
    } }, "Add parameter"));
}

/**
 * Read *key* of *owner* again after its type changed ("50" becomes 50 for an integer); text
 * that no longer fits is held with its error (Save refuses it) rather than saved mistyped.
 */
function retypeValue(ctx, owner, key, label, parse, format) {
  const pending = ctx.state.pending;
  const held = pending.get(owner, key);
  if (!held && owner[key] === undefined) return;
  const text = held ? held.text : format(owner[key]);
  const result = parse(text);
  if (result.error) {
    delete owner[key];
    pending.set(owner, key, { text, message: result.error, label });
    return;
  }
  pending.delete(owner, key);
  if (result.value === undefined) delete owner[key]; else owner[key] = result.value;
}

/** Each parameter's example (what "Test every operation" sends) and allowed values (enum). */
function parameterValues(op, at, ctx) {
  return h("div", { class: "param-values" }, op.parameters.map((p, i) => {
    const path = `${at}.parameters[${i}]`;
    const type = p.type || "string";
    return h("fieldset", { class: "param-value" }, h("legend", {}, p.name || `Parameter ${i + 1}`),
      boundField(ctx, p, "example", `Example of parameter ${i + 1}`, { path: `${path}.example`,
        kind: type === "boolean" ? { options: ["", "true", "false"], default: "" } : "text",
        parse: (text) => parseTyped(text, p.type || "string"), format: formatTyped,
        help: p.required ? "Sent by Test every operation when there is no default." : "A sample value, shown to callers." }),
      boundField(ctx, p, "enum", `Allowed values of parameter ${i + 1}`, { path: `${path}.enum`,
        parse: (text) => parseEnum(text, p.type || "string"), format: formatEnum, placeholder: "a, b, c",
        help: "Comma-separated, or a JSON array for values with commas. Empty: any value." }));
  }));
}

// The rows of each operation's headers editor, kept across renders so a header whose name is
// not typed yet is not lost (the document holds only named headers).
const headerRows = new WeakMap();

function namedHeaders(rows) {
  return Object.fromEntries(rows.filter(([name]) => name.trim()).map(([name, value]) => [name.trim(), value]));
}

/** The operation's own headers (added to the connector's, values may be templates). */
function headersEditor(op, at, ctx, rerender) {
  let rows = headerRows.get(op);
  // The document changed elsewhere (YAML view, a reload): start again from it.
  if (!rows || JSON.stringify(namedHeaders(rows)) !== JSON.stringify(op.headers || {})) {
    rows = Object.entries(op.headers || {}).map(([name, value]) => [name, String(value)]);
    headerRows.set(op, rows);
  }
  const sync = () => {
    const named = namedHeaders(rows);
    if (Object.keys(named).length) op.headers = named; else delete op.headers;
    ctx.markDirty();
  };
  const seen = new Map();
  for (const [name] of rows) seen.set(name.trim().toLowerCase(), (seen.get(name.trim().toLowerCase()) || 0) + 1);
  const body = rows.map((row, i) => {
    const name = h("input", { type: "text", value: row[0], placeholder: "X-Api-Version", autocomplete: "off" });
    const value = h("input", { type: "text", value: row[1], placeholder: "2024-01-01 or {{ config.region }}", autocomplete: "off" });
    const duplicate = row[0].trim() && seen.get(row[0].trim().toLowerCase()) > 1;
    if (duplicate) name.setAttribute("aria-invalid", "true");
    name.addEventListener("input", () => { row[0] = name.value; sync(); });
    value.addEventListener("input", () => { row[1] = value.value; sync(); });
    return h("tr", {},
      h("td", {}, field(`Name of header ${i + 1}`, name, { help: duplicate ? "⚠ Named twice: the last value is sent." : "" })),
      h("td", {}, field(`Value of header ${i + 1}`, value, { path: row[0].trim() ? `${at}.headers.${row[0].trim()}` : undefined })),
      h("td", {}, h("button", { type: "button", class: "danger edit", onclick: () => { rows.splice(i, 1); sync(); rerender(); } },
        "Remove", h("span", { class: "sr-only" }, ` header ${row[0] || i + 1}`))));
  });
  return group(`${at}.headers`, {}, h("table", { class: "grid edit-table headers" },
    h("thead", {}, h("tr", {}, ["Name", "Value", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, body.length ? body : h("tr", {}, h("td", { colspan: 3, class: "empty-cell" }, "No headers of its own: the connector's headers and auth apply.")))),
    h("p", { class: "help" }, "Sent with this operation's requests, after the connector's headers (a header named in both takes this value). Values may use templates such as {{ credentials.account }}."),
    h("button", { type: "button", class: "edit", onclick: () => { rows.push(["", ""]); rerender(); } }, "Add header"));
}
