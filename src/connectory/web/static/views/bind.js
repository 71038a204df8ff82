// Controls bound to a field of the in-memory connector document.
import { mountEditor } from "../code-editor.js";
import { field, h } from "../dom.js";
import { clearMarks } from "./problems.js";
import { formatTyped, parseSchema, parseTyped } from "./values.js";

/**
 * Text typed into fields that does not parse yet (invalid JSON, "abc" for an integer). It is
 * kept here, not in the document, so a re-render (a tab switch) shows it again and nothing
 * typed is lost; while any is held the builder refuses to save and lists it as a problem.
 * Entries are keyed by the object that owns the field in the document, so deleting that
 * object (an operation, a parameter row) drops them, and they follow their row when rows move.
 */
export class PendingInputs {
  constructor() {
    this.entries = new Map(); // owner object -> Map(key -> {text, message, label})
  }

  get(owner, key) { return this.entries.get(owner)?.get(key); }

  set(owner, key, entry) {
    if (!this.entries.has(owner)) this.entries.set(owner, new Map());
    this.entries.get(owner).set(key, entry);
  }

  delete(owner, key) {
    const byKey = this.entries.get(owner);
    byKey?.delete(key);
    if (byKey && !byKey.size) this.entries.delete(owner);
  }

  /** The entries whose owner is still in *doc*, as problems; the others are forgotten. */
  problems(doc) {
    if (!this.entries.size) return [];
    const paths = pathsOf(doc);
    const found = [];
    for (const [owner, byKey] of this.entries) {
      const at = paths.get(owner);
      if (at === undefined) { this.entries.delete(owner); continue; }
      for (const [key, entry] of byKey) {
        found.push({ severity: "error", path: at ? `${at}.${key}` : key, message: `${entry.label}: ${entry.message}`, pending: true });
      }
    }
    return found;
  }
}

/** Every object and array in *doc* with its path in the server's format ("operations[0].parameters"). */
function pathsOf(doc) {
  const paths = new Map();
  const walk = (value, at) => {
    if (value === null || typeof value !== "object" || paths.has(value)) return;
    paths.set(value, at);
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${at}[${i}]`));
    else for (const [key, item] of Object.entries(value)) walk(item, at ? `${at}.${key}` : key);
  };
  walk(doc, "");
  return paths;
}

const SCHEMA = { parse: parseSchema, format: (value) => JSON.stringify(value, null, 2) };

/**
 * A labelled input editing obj[key]. Empty text removes the key (optional fields stay unset).
 * kind: "text" | "number" | "checkbox" | "textarea" | "json" | {options: [...]}.
 * parse(text) -> {value} | {error} and format(value) -> text type the value ("json" sets both,
 * for a JSON Schema); text that does not parse is kept as a pending input at *pendingAt*
 * ([owner object in the document, key]; default [obj, key]) and shown with its error.
 */
export function boundField(ctx, obj, key, label, options = {}) {
  const { kind = "text", path, help, required, placeholder, onchange, readonly, def } = options;
  const { parse, format } = kind === "json" ? { ...SCHEMA, ...options } : options;
  const [owner, ownerKey] = options.pendingAt || [obj, key];
  const pending = ctx.state.pending;
  const held = parse ? pending?.get(owner, ownerKey) : undefined;
  const value = obj[key];
  const text = held ? held.text : format ? format(value) : value;
  let control;
  if (kind === "checkbox") {
    control = h("input", { type: "checkbox", checked: !!(value ?? def) });
  } else if (kind === "textarea" || kind === "json") {
    control = h("textarea", { rows: kind === "json" ? 8 : 3, spellcheck: kind === "json" ? "false" : "true",
      class: kind === "json" ? "code" : "" }, text ?? "");
  } else if (typeof kind === "object") {
    const current = String(text ?? kind.default ?? "");
    control = h("select", {}, kind.options.map((o) => h("option", { value: o, selected: current === o }, o === "" ? "(none)" : o)));
  } else {
    control = h("input", { type: kind === "number" ? "number" : kind === "url" ? "url" : "text", step: kind === "number" ? "any" : undefined,
      value: text ?? "", placeholder, readOnly: !!readonly, inputMode: options.inputMode });
  }
  const wrapper = field(label, control, { path, help, required });
  let read = () => control.value;
  // A JSON Schema goes in the code editor when it is loaded (the textarea stays otherwise).
  const editor = kind === "json" ? jsonEditor(ctx, wrapper, control, text ?? "", () => onInput()) : null;
  if (editor) { control = editor.view.contentDOM; read = editor.getValue; }
  const inputError = h("span", { class: "input-error" });
  wrapper.querySelector(".error").prepend(inputError);
  const showInputError = (message) => {
    inputError.textContent = message ? `⚠ ${message} ` : "";
    if (message) control.setAttribute("aria-invalid", "true");
  };
  if (held) showInputError(held.message);
  const onInput = () => {
    clearMarks(control);
    if (kind === "checkbox") obj[key] = control.checked;
    else if (parse) {
      const result = parse(read());
      if (result.error) {
        pending.set(owner, ownerKey, { text: read(), message: result.error, label });
        showInputError(result.error);
        ctx.markDirty();
        return;
      }
      pending.delete(owner, ownerKey);
      showInputError(null);
      if (result.value === undefined) delete obj[key]; else obj[key] = result.value;
    } else if (kind === "number") {
      if (control.value === "") delete obj[key]; else obj[key] = Number(control.value);
    } else if (control.value === "" && !required) delete obj[key];
    else obj[key] = control.value;
    ctx.markDirty();
    onchange?.(read());
  };
  if (!editor) control.addEventListener(kind === "checkbox" || typeof kind === "object" ? "change" : "input", onInput);
  return wrapper;
}

/**
 * Replace the textarea *control* of *wrapper* by a JSON editor holding *text*: the label
 * names it, the help and error lines describe it and the field's path moves onto it (problems
 * mark it, focus returns to it). Null when the editor bundle is not loaded.
 */
function jsonEditor(ctx, wrapper, control, text, onChange) {
  const host = h("div", { class: "code-editor json" });
  const label = wrapper.querySelector("label");
  label.id = `${control.id}-label`;
  label.removeAttribute("for");
  const editor = mountEditor(host, { language: "json", value: text, readOnly: !ctx.state.canEdit, labelId: label.id,
    describedBy: control.getAttribute("aria-describedby"), onChange, minHeight: "140px" });
  if (!editor) { label.setAttribute("for", control.id); return null; }
  const content = editor.view.contentDOM;
  content.id = control.id;
  if (control.dataset.path) content.dataset.path = control.dataset.path;
  control.replaceWith(host);
  return editor;
}

// What the server shows for a sensitive field's default; sending it back keeps the stored value.
const KEPT_SECRET = "********";
const INPUT_MODES = { integer: "numeric", number: "decimal" };
const EXAMPLES = { integer: "e.g. 50", number: "e.g. 2.5", array: 'e.g. ["a", "b"]', object: 'e.g. {"key": "value"}' };

/**
 * The `default` of a typed field (an operation parameter, a credential field): saved as the
 * owner's `type` says (integer, number, boolean, array and object as JSON), with an inline
 * error for text that does not fit. A boolean default is a choice, the others a text box.
 * A sensitive default shows as "********" (the server keeps its value when it comes back).
 */
export function typedDefaultField(ctx, owner, label, path) {
  const type = owner.type || "string";
  const parse = (text) => (text === KEPT_SECRET ? { value: text } : parseTyped(text, owner.type || "string"));
  const kind = type === "boolean" ? { options: ["", "true", "false"], default: "" } : "text";
  return boundField(ctx, owner, "default", label, { kind, path, parse, format: formatTyped,
    inputMode: INPUT_MODES[type], placeholder: EXAMPLES[type] });
}

/**
 * Read the owner's default again as its new type (after the type changed): "50" becomes 50
 * for integer and "50" again for string; text that does not fit the new type is held, with
 * its error, rather than saved with the wrong type.
 */
export function retypeDefault(ctx, owner, label) {
  const pending = ctx.state.pending;
  const held = pending.get(owner, "default");
  if (!held && owner.default === KEPT_SECRET) return; // a stored secret default, whatever its type
  const text = held ? held.text : formatTyped(owner.default);
  const result = parseTyped(text, owner.type || "string");
  if (result.error) {
    delete owner.default;
    pending.set(owner, "default", { text, message: result.error, label });
    return;
  }
  pending.delete(owner, "default");
  if (result.value === undefined) delete owner.default; else owner.default = result.value;
}
