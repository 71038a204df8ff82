// The YAML view: the same in-memory document as the form tabs, converted by the server
// (POST /ui/yaml/render and /ui/yaml/parse), so the browser needs no YAML library.
import { api, clearError, showError } from "../api.js";
import { badge, h, mount } from "../dom.js";

let editor = null; // {state, textarea, pending}

export async function renderYaml(panel, state, ctx) {
  const textarea = h("textarea", { id: "yaml-text", class: "code yaml", rows: 28, spellcheck: "false", "aria-describedby": "yaml-problems",
    readOnly: !state.canEdit });
  const problems = h("div", { id: "yaml-problems", "aria-live": "polite" });
  editor = { state, textarea, pending: false, problems, ctx };
  panel.append(h("label", { for: "yaml-text" }, "Connector YAML (edits apply to every tab)"), textarea, problems);
  try {
    const { yaml } = await api("POST", "/ui/yaml/render", { document: state.doc }, { quiet: true });
    textarea.value = yaml;
  } catch (error) { showError(error); }
  let timer;
  textarea.addEventListener("input", () => {
    editor.pending = true;
    ctx.markDirty(); // unsaved from the first keystroke, even while the YAML does not parse
    clearTimeout(timer);
    timer = setTimeout(() => flush(), 400);
  });
  // Every problem: those from the YAML have a line to go to, the others their path.
  showProblems(state.problems, textarea);
}

async function flush() {
  if (!editor?.pending) return !editor?.broken;
  const { state, textarea, ctx } = editor;
  editor.pending = false;
  try {
    const result = await api("POST", "/ui/yaml/parse", { yaml: textarea.value }, { quiet: true });
    editor.broken = result.document === null || typeof result.document !== "object" || Array.isArray(result.document);
    if (!editor.broken) {
      state.doc = result.document;
      clearError(); // "fix the YAML syntax error" is resolved
    }
    state.problems = result.problems;
    ctx.refreshProblems();
    showProblems(result.problems, textarea);
  } catch (error) { showError(error); }
  return !editor.broken;
}

/** Apply pending YAML edits before another tab renders; false if the YAML does not parse. */
export async function leaveYaml() {
  const ok = await flush();
  editor = ok ? null : editor;
  return ok;
}

function showProblems(list, textarea) {
  const box = editor?.problems;
  if (!box) return;
  if (!list.length) { mount(box, h("p", {}, badge("✓ valid", "ok"), " No problems.")); return; }
  mount(box, h("ul", { class: "problems-list" }, list.map((p) => h("li", {},
    badge(p.severity, p.severity === "error" ? "bad" : "warn"), " ",
    p.line ? h("button", { type: "button", class: "link", onclick: () => goToLine(textarea, p.line, p.column) }, `line ${p.line}${p.column ? `:${p.column}` : ""}`) : null,
    p.path ? h("code", {}, ` ${p.path}`) : null, ` ${p.message}`))));
}

function goToLine(textarea, line, column = 1) {
  const lines = textarea.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + Math.max(column - 1, 0);
  textarea.focus();
  textarea.setSelectionRange(start, start + (lines[line - 1]?.length || 0) - Math.max(column - 1, 0));
  textarea.scrollTop = Math.max(0, (line - 5) * 18);
}
