// The Hooks & Methods tab: the connector's JavaScript files (hooks/*.js, methods/*.js), the
// connector's own hooks, and what each operation runs (its hooks, or a method implementing it).
// Files live in state.files and are saved with the document; compile errors come back from
// the server with file, line and column and are shown next to the file.
import { announce } from "../api.js";
import { codeBox } from "../code-editor.js";
import { badge, emptyState, field, h } from "../dom.js";

const STARTERS = {
  "hooks/": "// A pre-request hook: change ctx.request (or return the changes), or return {response}.\n" +
    "export default function (ctx) {\n  ctx.log('sending', ctx.request.method, ctx.request.path);\n}\n",
  "methods/": "// A method: call the API through ctx.apiClient and return data.\n" +
    "export default async function (ctx) {\n  const items = await ctx.apiClient.get('/items', { query: ctx.parameters });\n  return items;\n}\n",
};
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\.js$/;

function opName(op) { return op.operation || op.name; }
function refFile(ref) { return typeof ref === "string" ? ref.split("#")[0] : ref?.file; }

export function renderHooks(panel, state, ctx) {
  state.files ??= {};
  const rerender = () => { panel.replaceChildren(); renderHooks(panel, state, ctx); };
  const codeFiles = Object.keys(state.files).filter((p) => /^(hooks|methods)\/.+\.js$/.test(p)).sort();
  state.openFile = codeFiles.includes(state.openFile) ? state.openFile : codeFiles[0];
  panel.append(
    h("p", { class: "help" }, "Hooks change requests and responses around every call; methods implement operations in JavaScript with ctx.apiClient. " +
      "Code runs sandboxed with time and memory limits (see docs/javascript.md)."),
    h("div", { class: "split" }, fileList(state, ctx, codeFiles, rerender), editor(state, ctx, rerender)),
    h("h2", {}, "Connector hooks (every operation)"),
    hookLists(state.doc.hooks ??= {}, "hooks", state, ctx, rerender),
    h("h2", {}, "Operations"),
    operationTable(state, ctx, rerender));
}

function fileList(state, ctx, codeFiles, rerender) {
  const folder = h("select", { id: "new-file-folder", "aria-label": "Folder" },
    h("option", { value: "hooks/" }, "hooks/"), h("option", { value: "methods/" }, "methods/"));
  const name = h("input", { id: "new-file-name", placeholder: "sign.js", "aria-label": "File name" });
  const create = () => {
    const file = name.value.trim();
    if (!NAME.test(file)) { announce("Name the file like sign.js (letters, digits, _ . -, ending in .js).", "error"); return; }
    const path = folder.value + file;
    if (state.files[path] !== undefined) { announce(`${path} exists already.`, "error"); return; }
    state.files[path] = STARTERS[folder.value];
    state.openFile = path;
    ctx.markDirty();
    rerender();
  };
  return h("section", { class: "card", "aria-label": "Code files" },
    h("h2", {}, "Files"),
    codeFiles.length ? h("ul", { class: "file-list" }, codeFiles.map((path) => h("li", {},
      h("button", { type: "button", class: path === state.openFile ? "link current" : "link", "aria-current": path === state.openFile ? "true" : null,
        onclick: () => { state.openFile = path; rerender(); } }, path),
      problemCount(state, path)))) : emptyState("No code yet."),
    h("div", { class: "inline-form" }, folder, name, h("button", { type: "button", class: "edit", onclick: create }, "New file")));
}

function problemCount(state, path) {
  const count = state.problems.filter((p) => p.file === path && p.severity === "error").length;
  return count ? h("span", { class: "count", "aria-label": `${count} problems` }, ` ⚠ ${count}`) : null;
}

function editor(state, ctx, rerender) {
  const path = state.openFile;
  if (!path) return h("section", { class: "card" }, emptyState("Create a file to edit it here."));
  const problems = state.problems.filter((p) => p.file === path);
  const box = codeBox({ id: "code-editor", label: path, value: state.files[path], language: "javascript", readOnly: !state.canEdit, describedBy: "code-problems code-help",
    dataset: { file: path, path }, onChange: (text) => { state.files[path] = text; ctx.markDirty(); } });
  box.setProblems(problems);
  const remove = () => {
    if (!confirm(`Delete ${path}? References to it must go too.`)) return;
    delete state.files[path];
    state.openFile = undefined;
    ctx.markDirty();
    rerender();
  };
  return h("section", { class: "card", "aria-label": `Editing ${path}` },
    box.element,
    h("p", { class: "help", id: "code-help" }, "Saved with the draft. Errors are shown at line:column after Validate or Save."),
    problems.length ? h("ul", { class: "problems-list", id: "code-problems" }, problems.map((p) => h("li", {},
      badge(p.severity, p.severity === "error" ? "bad" : "warn"), " ",
      p.line ? h("button", { type: "button", class: "link", onclick: () => box.goToLine(p.line, p.column) },
        `line ${p.line}${p.column ? `:${p.column}` : ""}`) : null, ` ${p.message}`))) :
      h("p", { id: "code-problems" }, badge("no problems found", "ok")),
    h("div", { class: "actions" }, h("button", { type: "button", class: "edit danger", onclick: remove }, `Delete ${path}`)));
}

/** Pre-request and post-response lists of one hooks object (connector or operation). */
function hookLists(hooks, where, state, ctx, rerender) {
  const kinds = [["pre_request", "Pre-request", "hooks/"], ["post_response", "Post-response", "hooks/"]];
  return h("div", { class: "split even" }, kinds.map(([kind, label, folder]) => {
    const list = hooks[kind] ||= [];
    return h("fieldset", {}, h("legend", {}, `${label} hooks`),
      list.length ? list.map((ref, index) => refRow(list, index, `${where}.${kind}[${index}]`, folder, state, ctx, rerender)) :
        emptyState("None."),
      h("button", { type: "button", class: "edit", onclick: () => {
        const first = Object.keys(state.files).find((p) => p.startsWith(folder));
        if (!first) { announce(`Create a file in ${folder} first.`, "error"); return; }
        list.push({ file: first });
        ctx.markDirty();
        rerender();
      } }, `Add a ${label.toLowerCase()} hook`));
  }));
}

/** One reference to code: the file, its export and the credentials it may read. */
function refRow(list, index, path, folder, state, ctx, rerender) {
  if (typeof list[index] === "string") {
    const [file, exp] = list[index].split("#");
    list[index] = exp ? { file, export: exp } : { file };
  }
  return refEditor(list[index], path, folder, state, ctx, () => { list.splice(index, 1); ctx.markDirty(); rerender(); });
}

function refEditor(ref, path, folder, state, ctx, onRemove) {
  const files = Object.keys(state.files).filter((p) => p.startsWith(folder)).sort();
  const file = h("select", { "data-path": `${path}.file`, onchange: () => { ref.file = file.value; ctx.markDirty(); } },
    files.map((p) => h("option", { value: p, selected: p === ref.file }, p)));
  const exp = h("input", { value: ref.export || "default", "data-path": `${path}.export`, onchange: () => {
    if (exp.value.trim() && exp.value.trim() !== "default") ref.export = exp.value.trim(); else delete ref.export;
    ctx.markDirty();
  } });
  const schema = state.doc.auth?.credential_schema || {};
  const creds = Object.keys(schema).map((name) => {
    const box = h("input", { type: "checkbox", id: `${path}-cred-${name}`, checked: (ref.credentials || []).includes(name), onchange: () => {
      const set = new Set(ref.credentials || []);
      if (box.checked) set.add(name); else set.delete(name);
      if (set.size) ref.credentials = [...set]; else delete ref.credentials;
      ctx.markDirty();
    } });
    return h("span", { class: "inline" }, box, h("label", { for: box.id }, name));
  });
  return h("div", { class: "ref-row", "data-field-path": path },
    field("File", file, { path: `${path}.file` }), field("Export", exp, { path: `${path}.export`, help: "default, or a named export" }),
    h("div", { class: "field" }, h("span", { class: "label" }, "Credentials it may read"), creds.length ? creds : h("span", { class: "help" }, "none in the schema")),
    onRemove ? h("button", { type: "button", class: "edit link", onclick: onRemove }, "Remove") : null);
}

function operationTable(state, ctx, rerender) {
  const ops = state.doc.operations || [];
  if (!ops.length) return emptyState("No operations yet.");
  return h("div", {}, ops.map((op, i) => {
    const where = `operations[${i}]`;
    const js = op.implementation === "javascript";
    const toggle = h("input", { type: "checkbox", id: `op-${i}-js`, checked: js, onchange: () => {
      if (toggle.checked) {
        const first = Object.keys(state.files).find((p) => p.startsWith("methods/"));
        if (!first) { toggle.checked = false; announce("Create a file in methods/ first.", "error"); return; }
        op.implementation = "javascript";
        op.code = { file: first };
        delete op.pagination;
      } else {
        delete op.implementation;
        delete op.code;
        op.path ??= "/";
      }
      ctx.markDirty();
      rerender();
    } });
    if (js && typeof op.code === "string") op.code = { file: refFile(op.code), ...(op.code.includes("#") ? { export: op.code.split("#")[1] } : {}) };
    return h("details", { class: "card op-hooks", open: js || !!op.hooks },
      h("summary", {}, opName(op), js ? h("span", {}, " ", badge("JavaScript method", "neutral")) : null),
      h("div", { class: "field inline" }, toggle, h("label", { for: toggle.id }, "Implemented by a JavaScript method")),
      js ? refEditor(op.code ||= {}, `${where}.code`, "methods/", state, ctx, null) : null,
      hookLists(op.hooks ??= {}, `${where}.hooks`, state, ctx, rerender));
  }));
}

/** Ready the tab to show *path* (a code file's problems link here: open that file). */
export function selectCodeFile(state, path) {
  if (/^(hooks|methods)\//.test(path)) state.openFile = path;
}

/** Empty hook lists are not written into the document (it stays as the author wrote it). */
export function pruneHooks(doc) {
  const prune = (hooks) => {
    if (!hooks) return undefined;
    for (const kind of ["pre_request", "post_response"]) if (!hooks[kind]?.length) delete hooks[kind];
    return Object.keys(hooks).length ? hooks : undefined;
  };
  if (prune(doc.hooks) === undefined) delete doc.hooks;
  for (const op of doc.operations || []) if (prune(op.hooks) === undefined) delete op.hooks;
  return doc;
}
