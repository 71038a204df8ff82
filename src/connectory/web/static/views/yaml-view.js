// The YAML view: the same in-memory document as the form tabs, converted by the server
// (POST /ui/yaml/render and /ui/yaml/parse), so the browser needs no YAML library. The text is
// edited in the code editor (static/code-editor.js): problems with a line are marked there.
import { api, clearError, showError } from "../api.js";
import { codeBox } from "../code-editor.js";
import { badge, h, mount } from "../dom.js";

let editor = null; // {state, box, pending, problems, ctx}

export async function renderYaml(panel, state, ctx) {
  const problems = h("div", { id: "yaml-problems", "aria-live": "polite" });
  const slot = h("div", { class: "code-slot" }, h("p", { class: "muted" }, "Loading the YAML…"));
  panel.append(slot, problems);
  let text = "";
  try {
    text = (await api("POST", "/ui/yaml/render", { document: state.doc }, { quiet: true })).yaml;
  } catch (error) { showError(error); }
  let timer;
  const box = codeBox({ id: "yaml-text", label: "Connector YAML (edits apply to every tab)", value: text, language: "yaml",
    readOnly: !state.canEdit, describedBy: "yaml-problems", rows: 28, onChange: () => {
      editor.pending = true;
      ctx.markDirty(); // unsaved from the first keystroke, even while the YAML does not parse
      clearTimeout(timer);
      timer = setTimeout(() => flush(), 400);
    } });
  editor = { state, box, pending: false, problems, ctx };
  mount(slot, box.element);
  // Every problem: those from the YAML have a line to go to (and a marker), the others their path.
  showProblems(state.problems);
  if (text && state.problems.some((p) => !p.line)) {
    // The saved problems name paths; the same checks on this text give their lines too.
    try {
      const located = await api("POST", "/ui/yaml/parse", { yaml: text }, { quiet: true });
      if (editor?.box === box && !editor.pending) showProblems(mergeLines(state.problems, located.problems));
    } catch { /* the list by path stays */ }
  }
}

/** The problems with the line the YAML text gives each path (code files' problems keep theirs). */
function mergeLines(problems, located) {
  const lines = new Map(located.filter((p) => p.line && p.path).map((p) => [`${p.path}\n${p.message}`, p]));
  return problems.map((p) => {
    const found = !p.line && lines.get(`${p.path}\n${p.message}`);
    return found ? { ...p, line: found.line, column: found.column } : p;
  });
}

async function flush() {
  // A parse already on its way is applied first: leaving the view must not outrun it.
  while (editor?.inflight) await editor.inflight;
  if (!editor?.pending) return !editor?.broken;
  const current = editor; // the view may be left (editor = null) while the parse is out
  current.pending = false;
  current.inflight = parse(current);
  try { await current.inflight; } finally { current.inflight = null; }
  return !current.broken;
}

async function parse(current) {
  const { state, box, ctx } = current;
  try {
    const result = await api("POST", "/ui/yaml/parse", { yaml: box.getValue() }, { quiet: true });
    current.broken = result.document === null || typeof result.document !== "object" || Array.isArray(result.document);
    if (!current.broken) {
      state.doc = result.document;
      clearError(); // "fix the YAML syntax error" is resolved
    }
    state.problems = result.problems;
    ctx.refreshProblems();
    showProblems(result.problems, current);
  } catch (error) { showError(error); }
}

/** Apply pending YAML edits before another tab renders; false if the YAML does not parse. */
export async function leaveYaml() {
  const ok = await flush();
  editor = ok ? null : editor;
  return ok;
}

function showProblems(list, current = editor) {
  const { problems: listBox, box } = current || {};
  if (!listBox) return;
  const here = list.filter((p) => !p.file || p.file === "connector.yaml");
  box.setProblems(here);
  if (!list.length) { mount(listBox, h("p", {}, badge("✓ valid", "ok"), " No problems.")); return; }
  mount(listBox, h("ul", { class: "problems-list" }, list.map((p) => h("li", {},
    badge(p.severity, p.severity === "error" ? "bad" : "warn"), " ",
    p.line && here.includes(p) ? h("button", { type: "button", class: "link", onclick: () => box.goToLine(p.line, p.column) },
      `line ${p.line}${p.column ? `:${p.column}` : ""}`) : null,
    p.path ? h("code", {}, ` ${p.path}`) : null, ` ${p.message}`))));
}
