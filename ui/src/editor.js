// The builder's code editor: CodeMirror 6 for YAML, JavaScript and JSON, with the server's
// problems as inline markers, and completion and hover docs for connector YAML driven by the
// format's JSON Schema (exported from the spec models). Bundled by esbuild (ui/package.json)
// into src/connectory/web/static/dist/editor.js; the app loads it through static/code-editor.js.
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { javascript } from "@codemirror/lang-javascript";
import { json } from "@codemirror/lang-json";
import { yaml } from "@codemirror/lang-yaml";
import { HighlightStyle, bracketMatching, foldGutter, foldKeymap, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { lintGutter, lintKeymap, setDiagnostics } from "@codemirror/lint";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { EditorState } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, hoverTooltip, keymap, lineNumbers } from "@codemirror/view";
import { tags } from "@lezer/highlight";
import { formatText } from "./format.js";
import { schemaCompletion, schemaHover } from "./schema-complete.js";

export { formatText };

// Colours with at least 4.5:1 contrast on white and on the active line (WCAG AA): the
// default style's orange and red do not reach it.
const highlight = HighlightStyle.define([
  { tag: tags.keyword, color: "#6f00a8" },
  { tag: [tags.atom, tags.bool, tags.null], color: "#1d2a9e" },
  { tag: [tags.number, tags.literal], color: "#0b6b3a" },
  { tag: [tags.string, tags.special(tags.string)], color: "#9b1c1c" },
  { tag: [tags.regexp, tags.escape], color: "#8a3b00" },
  { tag: [tags.propertyName, tags.definition(tags.propertyName)], color: "#1747a6" },
  { tag: tags.definition(tags.variableName), color: "#0050b3" },
  { tag: [tags.typeName, tags.className, tags.namespace], color: "#066150" },
  { tag: tags.comment, color: "#5b6474", fontStyle: "italic" },
  { tag: [tags.meta, tags.contentSeparator, tags.punctuation], color: "#404740" },
  { tag: tags.invalid, color: "#b3261e", textDecoration: "underline wavy" },
]);

const theme = EditorView.theme({
  "&": { border: "1px solid #aab1bd", borderRadius: "5px", backgroundColor: "#fff", fontSize: "13px" },
  "&.cm-focused": { outline: "3px solid #ffbf47", outlineOffset: "2px" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace", lineHeight: "1.45" },
  ".cm-gutters": { backgroundColor: "#f4f5f7", color: "#4a5261", borderRight: "1px solid #d8dce3" },
  ".cm-activeLine": { backgroundColor: "#f3f6fc" },
  ".cm-activeLineGutter": { backgroundColor: "#e6ebf5" },
  ".cm-schema-doc": { maxWidth: "420px", padding: "6px 8px", fontSize: "12.5px", lineHeight: "1.4" },
});

const LANGUAGES = { yaml: () => yaml(), javascript: () => javascript(), json: () => json() };

/**
 * Create an editor in *parent*.
 *
 * @param {object} options
 * @param {HTMLElement} options.parent where the editor goes
 * @param {string} options.value the text
 * @param {"yaml"|"javascript"|"json"} options.language its language
 * @param {boolean} [options.readOnly] shown but not editable
 * @param {string} options.labelledBy id of the element naming the editor (for screen readers)
 * @param {string} [options.describedBy] ids of elements describing it
 * @param {(text: string) => void} [options.onChange] called after each change of the text
 * @param {object} [options.schema] a JSON Schema: completion and hover docs for YAML keys and values
 * @param {string} [options.minHeight] CSS height of the editing area
 * @param {(message: string) => void} [options.onFormatError] told why a Format left the text as is
 * @returns the editor's handle: getValue, setValue, setProblems, goToLine, focus, destroy, and
 *   format (YAML and JSON: formats the text as one undoable change; true when it could)
 */
export function createEditor({ parent, value, language, readOnly = false, labelledBy, describedBy, onChange, schema, minHeight = "360px", onFormatError }) {
  const formattable = !readOnly && (language === "yaml" || language === "json");
  const format = (view, quiet = false) => {
    if (!formattable) return false;
    const before = view.state.doc.toString();
    const result = formatText(before, language);
    if (result.error) { if (!quiet) onFormatError?.(result.error); return false; }
    if (result.text === before) return true;
    // The cursor stays on its line (by number): the text around it moved, its place did not.
    const head = view.state.selection.main.head;
    const lineNumber = view.state.doc.lineAt(head).number;
    const lines = result.text.split("\n");
    const at = lines.slice(0, Math.min(lineNumber, lines.length) - 1).reduce((n, l) => n + l.length + 1, 0);
    view.dispatch({ changes: { from: 0, to: before.length, insert: result.text }, selection: { anchor: Math.min(at, result.text.length) },
      userEvent: "input.format", scrollIntoView: true });
    return true;
  };
  const extensions = [
    lineNumbers(), highlightActiveLineGutter(), foldGutter(), lintGutter(), history(), drawSelection(),
    indentOnInput(), bracketMatching(), closeBrackets(), highlightActiveLine(), highlightSelectionMatches(),
    syntaxHighlighting(highlight), theme,
    EditorView.theme({ ".cm-content, .cm-gutter": { minHeight }, ".cm-scroller": { maxHeight: "70vh", overflow: "auto" } }),
    // Tab is left to the browser (moving focus): the editor is never a keyboard trap.
    // Shift+Alt+F formats (YAML and JSON), as in the common editors.
    keymap.of([{ key: "Shift-Alt-f", run: (view) => format(view) }, ...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap, ...foldKeymap, ...completionKeymap, ...lintKeymap]),
    // tabindex: the content is reachable by keyboard (one tab stop) even read-only, where it
    // is not contenteditable, so the scroller around it never holds unreachable text.
    EditorView.contentAttributes.of({ "aria-labelledby": labelledBy, tabindex: "0", ...(describedBy ? { "aria-describedby": describedBy } : {}) }),
    LANGUAGES[language](),
    EditorState.readOnly.of(readOnly),
    EditorView.editable.of(!readOnly),
    EditorView.updateListener.of((update) => { if (update.docChanged && onChange) onChange(update.state.doc.toString()); }),
  ];
  if (language === "yaml" && schema) extensions.push(autocompletion({ override: [schemaCompletion(schema)] }), hoverTooltip(schemaHover(schema)));
  else extensions.push(autocompletion());
  const view = new EditorView({ parent, state: EditorState.create({ doc: value, extensions }) });
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    /** Show *problems* ({line, column, severity, message}) as markers at their lines; the rest have no place. */
    setProblems(problems) {
      const doc = view.state.doc;
      const diagnostics = (problems || []).filter((p) => p.line >= 1 && p.line <= doc.lines).map((p) => {
        const line = doc.line(p.line);
        const from = Math.min(line.from + Math.max((p.column || 1) - 1, 0), line.to);
        return { from, to: Math.max(line.to, from), severity: p.severity === "error" ? "error" : "warning",
          message: p.path ? `${p.path}: ${p.message}` : p.message };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
    goToLine(lineNumber, column = 1) {
      const doc = view.state.doc;
      const line = doc.line(Math.min(Math.max(lineNumber, 1), doc.lines));
      const from = Math.min(line.from + Math.max(column - 1, 0), line.to);
      view.dispatch({ selection: { anchor: from, head: line.to }, effects: EditorView.scrollIntoView(from, { y: "center" }) });
      view.focus();
    },
    focus: () => view.focus(),
    destroy: () => view.destroy(),
    /** Format the text (YAML keeps its comments); false when it does not parse or cannot be. */
    format: ({ quiet = false } = {}) => format(view, quiet),
    formattable,
  };
}
