// Forms generated from a collection's fields schema (JSON Schema), and record views.
import { emptyState, field, h } from "../dom.js";

function typeOf(schema) {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  return type || (schema.properties ? "object" : "string");
}

function resolve(schema, root) {
  // Shared schemas arrive bundled under $defs (#/$defs/Name); the builder passes the draft's
  // schemas section as $defs for #/schemas/Name. Follow one level for forms.
  const ref = schema?.$ref;
  for (const prefix of ["#/$defs/", "#/schemas/"]) {
    if (typeof ref === "string" && ref.startsWith(prefix)) return root.$defs?.[ref.slice(prefix.length)] || {};
  }
  return schema || {};
}

/**
 * A form for a record's fields. Read-only fields are left out (they are refused on writes);
 * objects and lists are edited as JSON. *values* pre-fills the form (an edit).
 */
export function recordForm(fieldsSchema, { values = {}, prefix = "rec", requireRequired = true } = {}) {
  const root = fieldsSchema || {};
  const top = resolve(root, root);
  const required = new Set(requireRequired ? top.required || [] : []);
  const box = h("div", { class: "fields" });
  for (const [name, raw] of Object.entries(top.properties || {})) {
    const schema = resolve(raw, root);
    if (schema.readOnly) continue;
    const type = typeOf(schema);
    const id = `${prefix}-${name}`;
    const current = values[name];
    let input;
    if (Array.isArray(schema.enum)) {
      input = h("select", { id }, h("option", { value: "" }, "(none)"),
        schema.enum.map((v) => h("option", { value: JSON.stringify(v), selected: current === v }, String(v))));
      input.dataset.kind = "json";
    } else if (type === "boolean") {
      input = h("input", { id, type: "checkbox", checked: current === true });
      input.dataset.kind = "boolean";
    } else if (type === "object" || type === "array") {
      input = h("textarea", { id, rows: 3, spellcheck: false }, current === undefined ? "" : JSON.stringify(current, null, 2));
      input.dataset.kind = "json";
    } else {
      const numeric = type === "number" || type === "integer";
      input = h("input", { id, type: numeric ? "number" : schema.writeOnly ? "password" : "text",
        step: type === "integer" ? "1" : numeric ? "any" : undefined,
        value: current === undefined || current === null ? "" : String(current) });
      input.dataset.kind = numeric ? "number" : "text";
    }
    input.dataset.name = name;
    box.append(field(schema.title || name, input, { help: schema.description, required: required.has(name), path: `fields.${name}` }));
  }
  if (!box.children.length) box.append(emptyState("The fields schema declares no writable fields."));
  return box;
}

/** The values of a recordForm; empty inputs are left out (an update changes only what is set). */
export function readRecordForm(box) {
  const values = {};
  for (const input of box.querySelectorAll("[data-name]")) {
    const name = input.dataset.name;
    if (input.dataset.kind === "boolean") { values[name] = input.checked; continue; }
    if (input.value === "") continue;
    if (input.dataset.kind === "number") values[name] = Number(input.value);
    else if (input.dataset.kind === "json") {
      try { values[name] = JSON.parse(input.value); } catch { values[name] = input.value; }
    } else values[name] = input.value;
  }
  return values;
}

/** Show field-level issues of a 422 invalid_record next to their inputs. */
export function markIssues(box, issues) {
  for (const node of box.querySelectorAll("[data-error-for]")) node.textContent = "";
  for (const issue of issues || []) {
    const name = issue.loc?.[issue.loc.length - 1];
    const target = box.querySelector(`[data-error-for="fields.${CSS.escape(String(name))}"]`);
    if (target) target.textContent = issue.message;
  }
}

/** A table of records: id, name, updated_at, and the first few fields. */
export function recordsTable(records, { onOpen } = {}) {
  if (!records.length) return emptyState("No records.");
  const keys = [...new Set(records.flatMap((r) => Object.keys(r.fields || {})))].slice(0, 4);
  return h("table", { class: "grid records" },
    h("thead", {}, h("tr", {}, ["id", "name", ...keys, "updated_at"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, records.map((r) => h("tr", {},
      h("td", {}, onOpen ? h("button", { type: "button", class: "link", onclick: () => onOpen(r) }, r.id) : r.id),
      h("td", {}, r.name ?? ""),
      keys.map((k) => h("td", {}, short(r.fields?.[k]))),
      h("td", {}, r.updated_at ?? "")))));
}

function short(value) {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
