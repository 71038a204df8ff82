// The Schemas tab: the connector's shared schemas (the top-level `schemas:` section, named JSON
// Schemas used with {"$ref": "#/schemas/Name"}). Add, rename (every $ref follows), delete
// (refused while referenced), edit the JSON in the code editor beside its read-only tree.
import { announce } from "../api.js";
import { badge, emptyState, group, h } from "../dom.js";
import { boundField } from "./bind.js";
import { isUnder } from "./problems.js";
import { parseSchema } from "./values.js";
import { schemaTree, sharedName } from "./schema-tree.js";

const REF_PREFIX = "#/schemas/";
// The server's rule for a shared schema's name (connectory.spec.shared_schemas.SCHEMA_NAME).
const SCHEMA_NAME = /^[A-Za-z0-9._-]+$/;

/** `schemas.Name`, or `schemas["a.b"]`, as the server writes problem paths. */
export function schemaPath(name) {
  return /^[A-Za-z_$][A-Za-z0-9_\-$]*$/.test(name) ? `schemas.${name}` : `schemas[${JSON.stringify(name)}]`;
}

/** Why *name* cannot be a new schema's name in *schemas*, or null when it can. */
export function nameProblem(name, schemas, current) {
  if (!name) return "Give the schema a name.";
  if (!SCHEMA_NAME.test(name)) return `"${name}" is not a schema name: letters, digits, . _ and - only (e.g. Contact).`;
  if (name !== current && Object.hasOwn(schemas, name)) return `A schema ${name} is there already.`;
  return null;
}

/** Every `$ref` in *value*, as [path, ref] (path in the server's problem-path format). */
export function findRefs(value, path = "") {
  const out = [];
  const stack = [[path, value, 0]];
  while (stack.length) {
    const [at, item, depth] = stack.pop();
    if (depth > 64 || !item || typeof item !== "object") continue;
    if (Array.isArray(item)) { item.forEach((v, i) => stack.push([`${at}[${i}]`, v, depth + 1])); continue; }
    if (typeof item.$ref === "string") out.push([at, item.$ref]);
    for (const [key, v] of Object.entries(item)) {
      const next = /^[A-Za-z_$][A-Za-z0-9_\-$]*$/.test(key) ? (at ? `${at}.${key}` : key) : `${at}[${JSON.stringify(key)}]`;
      stack.push([next, v, depth + 1]);
    }
  }
  return out.sort(([a], [b]) => a.localeCompare(b));
}

/** Where the schema *name* is referenced in *doc* (paths), a schema's references to itself left out. */
export function usesOf(doc, name) {
  const own = schemaPath(name);
  return findRefs(doc).filter(([at, ref]) => sharedName(ref) === name && !isUnder(at, own)).map(([at]) => at);
}

/** Point every reference to *from* in *value* at *to* ("#/schemas/From/properties/x" keeps its pointer). */
export function renameRefs(value, from, to) {
  let count = 0;
  const stack = [[value, 0]];
  while (stack.length) {
    const [item, depth] = stack.pop();
    if (depth > 64 || !item || typeof item !== "object") continue;
    if (Array.isArray(item)) { for (const v of item) stack.push([v, depth + 1]); continue; }
    if (typeof item.$ref === "string" && sharedName(item.$ref) === from) {
      item.$ref = REF_PREFIX + to + item.$ref.slice(REF_PREFIX.length + from.length);
      count += 1;
    }
    for (const v of Object.values(item)) stack.push([v, depth + 1]);
  }
  return count;
}

/** Select the schema of a problem's path ("schemas.Contact.properties"), so the tab shows its field. */
export function selectSchema(state, path) {
  const names = Object.keys(state.doc.schemas || {});
  const hit = names.find((name) => isUnder(path || "", schemaPath(name)));
  if (hit) state.selectedSchema = hit;
}

export function renderSchemas(panel, state, ctx) {
  // Looking adds nothing to the document: the section is created by the first Add.
  const schemas = state.doc.schemas || {};
  const names = Object.keys(schemas);
  if (!names.includes(state.selectedSchema)) state.selectedSchema = names[0];
  const rerender = () => ctx.renderPanel();
  const failing = ctx.errors().map((p) => p.path || "");
  panel.append(h("p", { class: "help" }, "Named JSON Schemas shared by the connector's schemas: an operation's response or request body, " +
    "a collection's fields or another shared schema refers to one with {\"$ref\": \"#/schemas/Name\"}."),
  h("div", { class: "split" }, schemaList(schemas, names, failing, state, ctx, rerender),
    names.length ? schemaEditor(schemas, state.selectedSchema, state, ctx, rerender)
      : emptyState("No shared schemas yet.", "Add one by name; operations then refer to it with $ref.")));
}

function schemaList(schemas, names, failing, state, ctx, rerender) {
  const input = h("input", { id: "new-schema-name", placeholder: "Contact", autocomplete: "off", spellcheck: "false", "aria-describedby": "new-schema-help" });
  const add = () => {
    const name = input.value.trim();
    const problem = nameProblem(name, schemas);
    if (problem) { announce(problem, "error"); input.setAttribute("aria-invalid", "true"); input.focus(); return; }
    state.doc.schemas = schemas;
    schemas[name] = { type: "object", properties: {} };
    state.selectedSchema = name;
    ctx.markDirty();
    rerender();
  };
  input.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); add(); } });
  return group("schemas", {}, h("nav", { class: "op-list schema-list", "aria-label": "Shared schemas" },
    names.length ? h("ul", {}, names.map((name) => h("li", {}, h("button", { type: "button", class: name === state.selectedSchema ? "selected" : "",
      "aria-current": name === state.selectedSchema ? "true" : undefined, onclick: () => { state.selectedSchema = name; rerender(); } }, name,
      failing.some((path) => isUnder(path, schemaPath(name))) ? [h("span", { class: "flag", "aria-hidden": "true" }, " ⚠"),
        h("span", { class: "sr-only" }, " (has problems)")] : null)))) : null,
    h("div", { class: "field" }, h("label", { for: "new-schema-name" }, "New schema name"), input,
      h("div", { class: "help", id: "new-schema-help" }, "Letters, digits, . _ and -.")),
    h("button", { type: "button", class: "primary edit", onclick: add }, "Add schema")));
}

function schemaEditor(schemas, name, state, ctx, rerender) {
  const at = schemaPath(name);
  const uses = usesOf(state.doc, name);
  const rename = h("input", { id: "schema-rename", value: name, autocomplete: "off", spellcheck: "false", "aria-describedby": "schema-rename-help" });
  const doRename = () => {
    const next = rename.value.trim();
    if (next === name) return;
    const problem = nameProblem(next, schemas, name);
    if (problem) { announce(problem, "error"); rename.setAttribute("aria-invalid", "true"); rename.focus(); return; }
    const entries = Object.entries(schemas).map(([k, v]) => [k === name ? next : k, v]);
    for (const k of Object.keys(schemas)) delete schemas[k];
    Object.assign(schemas, Object.fromEntries(entries));
    // JSON held because it does not parse moves with its schema (Save refuses it until fixed).
    const held = state.pending.get(schemas, name);
    if (held) { state.pending.delete(schemas, name); state.pending.set(schemas, next, held); }
    const count = renameRefs(state.doc, name, next);
    state.selectedSchema = next;
    ctx.markDirty();
    announce(`Renamed ${name} to ${next}; ${count} reference(s) updated.`);
    rerender();
  };
  const remove = () => {
    if (uses.length) {
      announce(`${name} is not deleted: it is used by ${uses.join(", ")}. Remove those references first.`, "error");
      return;
    }
    if (!confirm(`Delete the shared schema ${name}?`)) return;
    delete schemas[name];
    state.pending.delete(schemas, name); // its unparsed text, if any, goes with it
    if (!Object.keys(schemas).length) delete state.doc.schemas;
    state.selectedSchema = undefined;
    ctx.markDirty();
    rerender();
  };
  const treeHost = h("div", { class: "schema-tree-host" });
  const showTree = () => treeHost.replaceChildren(h("h3", {}, "Tree"), schemaTree(schemas[name], { label: `Tree of ${name}`,
    onRef: (target) => { if (Object.hasOwn(schemas, target)) { state.selectedSchema = target; rerender(); } else announce(`No shared schema ${target}.`, "error"); } }));
  // Emptied, the box means "any value" ({}): the schema stays in the section, its references stay valid.
  const json = boundField(ctx, schemas, name, `JSON Schema of ${name}`, { kind: "json", path: at,
    parse: (text) => (text.trim() ? parseSchema(text) : { value: {} }),
    help: "A JSON object; $ref to another shared schema as {\"$ref\": \"#/schemas/Name\"}.",
    onchange: () => showTree() });
  json.classList.add("schema-json");
  showTree();
  return h("section", { class: "schema-editor card", "aria-label": `Schema ${name}` },
    h("div", { class: "inline-form" },
      h("div", { class: "field" }, h("label", { for: "schema-rename" }, "Name"), rename,
        h("div", { class: "help", id: "schema-rename-help" }, "Renaming updates every $ref to it in the connector.")),
      h("button", { type: "button", class: "edit", onclick: doRename }, "Rename"),
      h("button", { type: "button", class: "danger edit", onclick: remove }, `Delete ${name}`)),
    h("p", { class: "schema-uses" }, uses.length ? [badge(`used ${uses.length}×`, "neutral"), ` by ${uses.join(", ")}`] : badge("not referenced", "neutral")),
    h("div", { class: "split even schema-panes" }, json, treeHost));
}
