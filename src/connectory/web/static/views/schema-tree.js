// A read-only tree of a JSON Schema: each property collapsible, with its type, required,
// readOnly/writeOnly, enum and description; a $ref to a shared schema is a link that opens it.
import { announce } from "../api.js";
import { h } from "../dom.js";

const REF_PREFIX = "#/schemas/";
// Deeper nesting is not a schema anyone reads in a tree (and keeps cyclic objects finite).
const MAX_DEPTH = 32;

/** The shared schema a reference names ("#/schemas/Contact/properties/id" -> "Contact"), or null. */
export function sharedName(ref) {
  if (typeof ref !== "string" || !ref.startsWith(REF_PREFIX)) return null;
  return ref.slice(REF_PREFIX.length).split("/")[0] || null;
}

function typeText(schema) {
  if (Array.isArray(schema.type)) return schema.type.join(" | ");
  if (schema.type) return schema.items?.type && schema.type === "array" ? `array of ${schema.items.type}` : schema.type;
  for (const key of ["oneOf", "anyOf", "allOf"]) if (Array.isArray(schema[key])) return key;
  if ("const" in schema) return "const";
  if (schema.enum) return "enum";
  return "any";
}

function tags(schema, required) {
  const out = [h("span", { class: "st-type" }, typeText(schema))];
  if (required) out.push(h("span", { class: "st-tag st-required" }, "required"));
  if (schema.readOnly) out.push(h("span", { class: "st-tag" }, "readOnly"));
  if (schema.writeOnly) out.push(h("span", { class: "st-tag" }, "writeOnly"));
  if (schema.format) out.push(h("span", { class: "st-tag" }, schema.format));
  if (Array.isArray(schema.enum)) out.push(h("span", { class: "st-enum" }, `enum: ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`));
  if ("const" in schema) out.push(h("span", { class: "st-enum" }, `const: ${JSON.stringify(schema.const)}`));
  return out;
}

function refLink(ref, onRef) {
  const name = sharedName(ref);
  if (!name || !onRef) return h("code", { class: "st-ref" }, ref);
  return h("button", { type: "button", class: "link st-ref", title: `Open the shared schema ${name}`, onclick: () => onRef(name) },
    `→ ${name}`, h("span", { class: "sr-only" }, " (open in the Schemas tab)"));
}

/** The children of *schema*: its properties, array items and combinators, as [label, schema, required]. */
function children(schema) {
  const out = [];
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  if (schema.properties && typeof schema.properties === "object") {
    for (const [name, sub] of Object.entries(schema.properties)) out.push([name, sub, required.has(name)]);
  }
  if (schema.items && typeof schema.items === "object" && !Array.isArray(schema.items)) {
    const items = schema.items;
    // A plain array of scalars says it all in its type ("array of string"); objects, refs and combinators open.
    if (items.$ref || items.properties || items.items || items.oneOf || items.anyOf || items.allOf) out.push(["[items]", items, false]);
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === "object") out.push(["{additional}", schema.additionalProperties, false]);
  for (const key of ["oneOf", "anyOf", "allOf"]) {
    if (Array.isArray(schema[key])) schema[key].forEach((sub, i) => out.push([`${key}[${i}]`, sub, false]));
  }
  return out;
}

function node(label, schema, required, onRef, depth) {
  const name = h("span", { class: "st-name" }, label);
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) {
    return h("li", {}, h("div", { class: "st-row" }, name, h("span", { class: "st-type" }, schema === false ? "never" : "any")));
  }
  const line = [name, schema.$ref ? refLink(schema.$ref, onRef) : null, ...(schema.$ref && !schema.type ? [] : tags(schema, false)),
    required ? h("span", { class: "st-tag st-required" }, "required") : null];
  const description = schema.description ? h("div", { class: "st-desc" }, schema.description) : null;
  const kids = depth < MAX_DEPTH ? children(schema) : [];
  if (!kids.length) return h("li", {}, h("div", { class: "st-row" }, ...line), description);
  return h("li", {}, h("details", { open: depth < 2 }, h("summary", { class: "st-row" }, ...line), description,
    h("ul", { class: "st-list" }, kids.map(([l, s, r]) => node(l, s, r, onRef, depth + 1)))));
}

/**
 * A read-only tree of *schema*. *onRef(name)*, when given, is called when the link of a
 * reference to a shared schema is followed. *label* names the tree for screen readers.
 */
export function schemaTree(schema, { onRef, label = "Schema tree" } = {}) {
  if (schema === undefined || schema === null || (typeof schema === "object" && !Object.keys(schema).length)) {
    return h("div", { class: "schema-tree empty-state", role: "group", "aria-label": label }, h("p", {}, "No schema: any value is accepted."));
  }
  if (typeof schema !== "object" || Array.isArray(schema)) {
    return h("div", { class: "schema-tree", role: "group", "aria-label": label }, h("p", {}, "Not a JSON Schema object."));
  }
  const head = h("div", { class: "st-root st-row" }, schema.title ? h("span", { class: "st-name" }, schema.title) : null,
    schema.$ref ? refLink(schema.$ref, onRef) : null, ...(schema.$ref && !schema.type ? [] : tags(schema, false)));
  return h("div", { class: "schema-tree", role: "group", "aria-label": label }, head,
    schema.description ? h("div", { class: "st-desc" }, schema.description) : null,
    h("ul", { class: "st-list" }, children(schema).map(([l, s, r]) => node(l, s, r, onRef, 1))));
}

/**
 * A "Tree | JSON" switch over a schema field: *jsonField* (the editable JSON box) or the tree
 * of *getSchema()*. *store* keeps the choice across renders ({view: "tree" | "json"}); a field
 * with problems (*hasProblems*) opens on its JSON, where the problems are marked. *unreadable()*
 * says why the JSON typed has no tree yet (it does not parse), or null.
 */
export function treeOrJson(jsonField, getSchema, { store, onRef, label, hasProblems = false, unreadable = () => null }) {
  store.view ??= "json";
  let view = hasProblems || unreadable() ? "json" : store.view;
  const host = h("div", { class: "tree-or-json" });
  // In the tree view the JSON box (and its label) is hidden: the switch's own label names the field.
  const title = h("span", { class: "label" }, label);
  const show = () => {
    for (const button of bar.querySelectorAll("button")) button.setAttribute("aria-pressed", String(button.dataset.view === view));
    jsonField.hidden = view !== "json";
    title.hidden = view === "json";
    host.querySelector(".schema-tree")?.remove();
    if (view === "tree") host.append(schemaTree(getSchema(), { onRef, label: `${label}: tree` }));
  };
  const button = (name, text) => h("button", { type: "button", class: "small", "data-view": name, "aria-pressed": "false",
    onclick: () => {
      const why = name === "tree" ? unreadable() : null;
      if (why) { announce(`No tree: ${why}`, "error"); return; }
      view = store.view = name; show();
    } }, text);
  const bar = h("div", { class: "view-switch", role: "group", "aria-label": `${label} view` }, button("tree", "Tree"), button("json", "JSON"));
  host.append(h("div", { class: "tree-or-json-head" }, title, bar), jsonField);
  show();
  return host;
}
