// Forms generated from schemas: the connect form (credential_schema), parameter forms
// (operation parameters), and the view of an operation's result.
import { announce } from "./api.js";
import { badge, field, h, uid } from "./dom.js";

function control(name, spec, prefix) {
  const id = uid(prefix);
  const type = spec.type || "string";
  if (Array.isArray(spec.enum) && spec.enum.length) {
    return h("select", { id, name }, h("option", { value: "" }, "(choose)"),
      spec.enum.map((v) => h("option", { value: String(v), selected: spec.default === v }, String(v))));
  }
  if (type === "boolean") return h("input", { id, name, type: "checkbox", checked: spec.default === true });
  const inputType = type === "password" ? "password" : ["number", "integer"].includes(type) ? "number" : "text";
  return h("input", {
    id, name, type: inputType, autocomplete: type === "password" ? "new-password" : "off",
    step: type === "integer" ? "1" : type === "number" ? "any" : undefined,
    placeholder: spec.default !== undefined && spec.default !== null && type !== "password"
      ? (typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default)) : undefined,
  });
}

/**
 * A form section for a map of fields ({name: {label, type, required, help, default, enum}}).
 * Password fields are masked; values are never pre-filled from stored secrets.
 */
export function fieldsForm(fields, { prefix = "cred", pathPrefix = "" } = {}) {
  const box = h("div", { class: "fields" });
  for (const [name, spec] of Object.entries(fields || {})) {
    const input = control(name, spec || {}, prefix);
    input.dataset.name = name;
    input.dataset.type = spec?.type || "string";
    box.append(field(spec?.label || name, input, {
      help: spec?.help || spec?.description, required: !!spec?.required, path: pathPrefix ? `${pathPrefix}.${name}` : undefined,
    }));
  }
  if (!box.children.length) box.append(h("p", { class: "help" }, "No fields to fill in."));
  return box;
}

/** The form of an operation's parameters (a list of {name, location, type, required, ...}). */
export function parametersForm(parameters, prefix = "param") {
  const fields = {};
  for (const p of parameters || []) {
    fields[p.name] = { label: `${p.name} (${p.location || "query"})`, type: p.type, required: p.required,
      help: p.description, default: p.default, enum: p.enum };
  }
  return fieldsForm(fields, { prefix });
}

/** Read the values of a form made by fieldsForm; empty inputs are left out. */
export function readFields(box) {
  const values = {};
  for (const input of box.querySelectorAll("[data-name]")) {
    const name = input.dataset.name;
    if (input.type === "checkbox") { values[name] = input.checked; continue; }
    if (input.value === "") continue;
    const type = input.dataset.type;
    if (type === "number" || type === "integer") values[name] = Number(input.value);
    else if (type === "array" || type === "object") {
      try { values[name] = JSON.parse(input.value); } catch { values[name] = input.value; }
    } else values[name] = input.value;
  }
  return values;
}

function pretty(value) {
  if (value === null || value === undefined) return "(empty)";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function headersTable(headers) {
  return h("table", { class: "kv" }, h("tbody", {},
    Object.entries(headers || {}).map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))));
}

/** The schema check of a result: passed, or the mismatches with their JSON paths. */
export function schemaCheck(mismatches, hasSchema = true) {
  if (!hasSchema) return h("p", { class: "schema" }, badge("no schema", "neutral"), " The operation has no response schema.");
  if (!mismatches?.length) return h("p", { class: "schema", "data-test": "schema-ok" }, badge("schema ✓ passed", "ok"), " The response matches the response schema.");
  return h("div", { class: "schema" }, badge(`schema ✗ ${mismatches.length} mismatch(es)`, "bad"),
    h("ul", {}, mismatches.map((m) => h("li", {}, h("code", {}, m.path), " ", m.message))));
}

/** Whether a call's result is a success: a 2xx/3xx answer whose body matches the schema. */
export function resultPassed(result) {
  return result.status_code < 400 && !result.error && !(result.schema_mismatches || []).length;
}

/**
 * Announce the result of a call: an answer of 400 or more (401, 404, ...) is an error, a
 * schema mismatch too; never shown as a success.
 */
export function announceResult(name, result) {
  const mismatches = (result.schema_mismatches || []).length;
  if (result.status_code >= 400) announce(`✗ ${name}: HTTP ${result.status_code}, the API refused the call (see the response body).`, "error");
  else if (result.error) announce(`✗ ${name}: HTTP ${result.status_code}, then ${result.error}`, "error");
  else if (mismatches) announce(`✗ ${name}: HTTP ${result.status_code}, but ${mismatches} schema mismatch(es).`, "error");
  else announce(`✓ ${name}: HTTP ${result.status_code}`);
}

const STATUS_HINTS = [
  [[401, 403], "The credentials were refused: check the credentials and the auth settings."],
  [[404], "Not found: check the base URL, the path and its parameters."],
  [[429], "Rate limited by the API: wait, or lower the rate limit."],
];

function statusHint(code) {
  if (code < 400) return null;
  const hint = STATUS_HINTS.find(([codes]) => codes.includes(code))?.[1];
  return hint || (code >= 500 ? "The API failed to answer this request." : "The API refused this request: see the response body.");
}

/** The result of a call: status, timing, the request as sent (redacted), headers, body. */
export function resultView(result, { hasSchema = true } = {}) {
  const ok = result.status_code < 400;
  const sent = result.request;
  return h("section", { class: "result", "aria-label": "Result" },
    h("p", { class: "result-head" },
      badge(`${ok ? "✓" : "✗"} HTTP ${result.status_code}`, ok ? "ok" : "bad"),
      h("span", { class: "timing" }, ` ${(result.elapsed * 1000).toFixed(0)} ms`),
      result.version ? h("span", { class: "muted" }, ` · ran ${result.version}`) : null),
    ok ? null : h("p", { class: "error-text" }, `✗ HTTP ${result.status_code} is an error. ${statusHint(result.status_code)}`),
    ok ? schemaCheck(result.schema_mismatches, hasSchema) : null,
    result.request_before_hooks ? requestView("Request before hooks", result.request_before_hooks) : null,
    sent ? requestView(result.request_before_hooks ? "Request after hooks, as sent (secrets redacted)" : "Request as sent (secrets redacted)", sent) : null,
    (result.api_calls || []).map((call, i) => requestView(`Method request ${i + 1} (ctx.apiClient)`, call)),
    result.logs?.length ? logView(result.logs) : null,
    h("details", {}, h("summary", {}, `Response headers (${Object.keys(result.headers || {}).length})`), headersTable(result.headers)),
    h("details", { open: true }, h("summary", {}, "Response body"), h("pre", { class: "code body", tabindex: "0" }, pretty(result.body))),
    result.pages ? pagesView(result.pages, result.error) : null);
}

function requestView(title, sent) {
  return h("details", {}, h("summary", {}, title),
    h("pre", { class: "code" }, `${sent.method} ${sent.url}\n`,
      Object.entries(sent.headers || {}).map(([k, v]) => `${k}: ${v}\n`).join(""),
      sent.body ? `\n${sent.body}` : ""));
}

/** What connector JavaScript logged (ctx.log), with the place of each call. */
export function logView(logs) {
  return h("details", { open: true, class: "js-log" }, h("summary", {}, `JavaScript log (${logs.length})`),
    h("pre", { class: "code" }, logs.map((line) => `${line.level.padEnd(5)} ${line.location ? `${line.location}  ` : ""}${line.message}\n`).join("")));
}

/** A failure of connector JavaScript: the message (file:line:col first), the stack, the log. */
export function scriptErrorView(script) {
  return h("section", { class: "result script-error", "aria-label": "JavaScript error" },
    h("p", { class: "error-text" }, `✗ ${script.message}`),
    script.stack?.length ? h("pre", { class: "code" }, script.stack.map((frame) => `    at ${frame}\n`).join("")) : null,
    script.logs?.length ? logView(script.logs) : null);
}

function pagesView(pages, error) {
  return h("section", { class: "pages" }, h("h4", {}, `Pages read: ${pages.length}`),
    h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ["#", "Status", "Records", "Time", "Schema", "URL"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, pages.map((p) => h("tr", {},
        h("td", {}, p.number), h("td", {}, p.status_code), h("td", {}, p.record_count),
        h("td", {}, `${(p.elapsed * 1000).toFixed(0)} ms`),
        h("td", {}, p.schema_mismatches.length ? `✗ ${p.schema_mismatches.length}` : "✓"),
        h("td", { class: "url" }, p.url))))),
    error ? h("p", { class: "error-text" }, `Stopped: ${error}`) : null);
}
