// Code boxes: the CodeMirror editor bundled from ui/ (static/dist/editor.js, built by `make ui`)
// or, when that bundle is missing or fails to load, a plain textarea that does the same job
// without highlighting, inline markers or completion. Both give the same handle.
import { announce } from "./api.js";
import { h } from "./dom.js";

let bundle; // the loaded module, or null when it is missing
let loading = null;
let schema = null; // the connector format's JSON Schema, for YAML completion and hover docs

/** Load the editor bundle (once) and the format's schema; resolves to true when the editor is there. */
export function loadCodeEditor() {
  loading ??= (async () => {
    try {
      bundle = await import("./dist/editor.js");
    } catch (error) {
      bundle = null;
      console.warn(`Connectory: the code editor bundle (/ui/static/dist/editor.js) did not load (${error.message}); ` +
        "code is edited in plain text boxes. Build it with `make ui`.");
      return false;
    }
    try {
      const response = await fetch("/ui/connector.schema.json", { credentials: "same-origin" });
      if (response.ok) schema = await response.json();
    } catch { /* no completion: editing still works */ }
    return true;
  })();
  return loading;
}

/**
 * Put an editor for *language* into *host* (an element already in its field, named by the
 * element *labelId*); null when the bundle is not loaded (the caller keeps its textarea).
 * Returns the editor's handle; its `view.contentDOM` is the focusable, labelled element.
 */
export function mountEditor(host, { language, value, readOnly = false, labelId, describedBy, onChange, minHeight }) {
  if (!bundle) return null;
  const editor = bundle.createEditor({ parent: host, value, language, readOnly, labelledBy: labelId, describedBy, onChange, minHeight,
    onFormatError: formatError });
  host.codeEditor = editor; // formatEditors() finds it
  return editor;
}

function formatError(message) { announce(`Not formatted: ${message}.`, "error"); }

/**
 * Format every YAML and JSON editor under *root* (done on save). Text that does not parse is
 * left as it is, quietly: the save reports the problem where it is.
 */
export function formatEditors(root) {
  for (const host of root?.querySelectorAll(".code-editor") || []) {
    if (host.codeEditor?.formattable) host.codeEditor.format({ quiet: true });
  }
}

/**
 * A labelled code box. Returns {element, getValue, setValue, setProblems, goToLine, focus};
 * *element* holds the label, the editor and a help line.
 *
 * @param {object} o
 * @param {string} o.id id of the box (the textarea's, or the editor wrapper's)
 * @param {string} o.label the visible label
 * @param {string} o.value the text
 * @param {"yaml"|"javascript"|"json"} o.language
 * @param {boolean} [o.readOnly]
 * @param {string} [o.describedBy] ids of elements describing the box (a problem list)
 * @param {(text: string) => void} [o.onChange]
 * @param {number} [o.rows] the textarea's rows
 * @param {object} [o.dataset] data attributes for the box
 */
export function codeBox({ id, label, value, language, readOnly = false, describedBy, onChange, rows = 22, dataset = {} }) {
  const labelId = `${id}-label`;
  if (bundle) {
    const host = h("div", { id, class: `code-editor ${language}`, dataset: { ...dataset, editor: "codemirror" } });
    const editor = bundle.createEditor({ parent: host, value, language, readOnly, labelledBy: labelId, describedBy, onChange,
      schema: language === "yaml" ? schema : null, onFormatError: formatError });
    host.codeEditor = editor; // for tests, for the views that read it, and for formatEditors()
    const formatButton = editor.formattable ? h("button", { type: "button", class: "small format-button", "aria-describedby": `${id}-format-help`,
      onclick: () => { if (editor.format()) announce(`Formatted the ${language.toUpperCase()}.`); editor.focus(); } }, "Format") : null;
    const head = h("div", { class: "code-head" }, h("span", { id: labelId, class: "label" }, label), formatButton,
      formatButton ? h("span", { class: "help", id: `${id}-format-help` }, "Shift+Alt+F in the editor; also done on save" +
        (language === "yaml" ? " (comments are kept)" : "")) : null);
    return { element: h("div", { class: "field code-field" }, head, host), ...handle(editor) };
  }
  const textarea = h("textarea", { id, class: `code ${language}`, rows, spellcheck: "false", readOnly, dataset,
    "aria-describedby": describedBy, oninput: () => onChange?.(textarea.value) });
  textarea.value = value;
  return {
    element: h("div", { class: "field code-field" }, h("label", { id: labelId, for: id }, label), textarea),
    getValue: () => textarea.value,
    setValue: (text) => { textarea.value = text; },
    setProblems: () => {}, // the problem list under the box says where each one is
    goToLine: (line, column) => goToLine(textarea, line, column),
    focus: () => textarea.focus(),
    format: () => false, // the plain box has no formatter: the text is saved as typed
  };
}

function handle(editor) {
  return { getValue: editor.getValue, setValue: editor.setValue, setProblems: editor.setProblems, goToLine: editor.goToLine, focus: editor.focus,
    format: editor.format };
}

function goToLine(textarea, line, column = 1) {
  const lines = textarea.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + Math.max(column - 1, 0);
  textarea.focus();
  textarea.setSelectionRange(start, start + Math.max((lines[line - 1]?.length || 0) - (column - 1), 1));
  textarea.scrollTop = Math.max(0, (line - 5) * 18);
}
