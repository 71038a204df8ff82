// The builder of one connector: a tablist over one in-memory document, saved as the draft.
import { api, announce, showError } from "../api.js";
import { formatEditors, loadCodeEditor } from "../code-editor.js";
import { badge, h, mount } from "../dom.js";
import { go, guardLeaving } from "../router.js";
import { PendingInputs } from "./bind.js";
import { renderAuth, renderOverview, renderResilience, renderSchemas, selectSchema } from "./builder-tabs.js";
import { renderData, selectCollection } from "./data-tab.js";
import { renderEvents } from "./events-tab.js";
import { pruneHooks, renderHooks, selectCodeFile } from "./hooks-tab.js";
import { renderOperations, selectOperation } from "./operations.js";
import { findTarget, isUnder, markProblems, problemList } from "./problems.js";
import { renderPublish } from "./publish-tab.js";
import { renderTest } from "./test-tab.js";
import { leaveYaml, renderYaml } from "./yaml-view.js";

/**
 * The tabs. *owns*: the document paths whose fields the tab shows (their problems count on
 * the tab, and their links open it); *select(state, path)* readies the tab to show one path
 * (the Operations tab selects the operation). A path no tab owns is edited in the YAML view.
 */
const TABS = [
  { key: "overview", label: "Overview", render: renderOverview,
    owns: ["name", "slug", "type", "description", "base_url", "icon", "documentation_url", "parameters", "headers"] },
  { key: "auth", label: "Auth & Credentials", render: renderAuth, owns: ["auth"] },
  { key: "operations", label: "Operations", render: renderOperations, owns: ["operations"], select: selectOperation },
  { key: "hooks", label: "Hooks & Methods", render: renderHooks, owns: ["hooks"], select: selectCodeFile },
  { key: "schemas", label: "Schemas", render: renderSchemas, owns: ["schemas"], select: selectSchema },
  { key: "data", label: "Data", render: renderData, owns: ["collections"], select: selectCollection },
  { key: "resilience", label: "Resilience", render: renderResilience, owns: ["resilience"] },
  { key: "events", label: "Events", render: renderEvents, owns: ["events", "webhooks"] },
  { key: "test", label: "Test", render: renderTest },
  { key: "publish", label: "Publish", render: renderPublish },
  { key: "yaml", label: "YAML", render: renderYaml },
];
const READ_ONLY_TABS = new Set(["test", "publish"]);

// Builders kept between tab switches (the in-memory document survives); dropped when the user
// leaves one (after asking if it has unsaved work).
const states = new Map();

// Reloading or closing the page with unsaved work asks first.
window.addEventListener("beforeunload", (event) => {
  if (![...states.values()].some(hasUnsaved)) return;
  event.preventDefault();
  event.returnValue = "";
});

function hasUnsaved(state) {
  return state.dirty;
}

function blankDocument() {
  return { name: "", slug: "", type: "General", description: "", base_url: "https://",
    auth: { auth_type: "none", credential_schema: {} }, operations: [] };
}

async function loadState(id) {
  const base = { pending: new PendingInputs(), dirty: false, edits: 0, problems: [], problemsOpen: true };
  if (!id) return { ...base, id: null, connector: null, doc: blankDocument(), files: {}, canEdit: true };
  const connector = await api("GET", `/connectors/${id}`);
  let doc = connector.latest?.document;
  let files = connector.latest?.files;
  let problems = [];
  if (connector.has_draft) {
    const draft = await api("GET", `/connectors/${id}/draft`);
    doc = draft.document;
    files = draft.files;
    problems = draft.problems;
  }
  return { ...base, id, connector, doc: structuredClone(doc || blankDocument()), files: { ...(files || {}) },
    problems: placed(problems), canEdit: connector.can_edit };
}

/** The document and its code files, as the API takes them. */
function body(state) {
  return { document: pruneHooks(state.doc), files: state.files || {} };
}

/** A problem in a code file is shown at the file (its path is the file's: hooks/sign.js). */
function placed(problems) {
  return (problems || []).map((p) => (!p.path && /^(hooks|methods)\//.test(p.file || "") ? { ...p, path: p.file } : p));
}

/** Which tab shows the field of a problem's path. */
export function tabOf(path) {
  if (!path) return "overview";
  // Code files, and the references to code (edited in the Hooks & Methods tab).
  if (/^(hooks|methods)\//.test(path) || /^operations\[\d+\]\.(code|hooks)\b/.test(path)) return "hooks";
  return TABS.find((t) => t.owns?.some((prefix) => isUnder(path, prefix)))?.key || "yaml";
}

function tabLabel(path) {
  const key = tabOf(path);
  return `${TABS.find((t) => t.key === key).label} tab`;
}

export async function showBuilder(view, params, me) {
  const key = params.id || "new";
  let state = states.get(key);
  if (!state) {
    // The code editor loads with the first builder shown (the textarea stands in without it).
    [state] = await Promise.all([loadState(params.id), loadCodeEditor()]);
    states.set(key, state);
  }
  state.me = me;
  guardLeaving({
    // Its own tabs, and its own id once a new draft is created.
    stays: (path) => [key, state.id].some((k) => k && (path === `/connectors/${k}` || path.startsWith(`/connectors/${k}/`))),
    leave: () => {
      const name = state.doc.name || "this connector";
      if (hasUnsaved(state) && !confirm(`${name} has unsaved changes. Leave and discard them?`)) return false;
      states.delete(key);
      return true;
    },
  });
  const tab = TABS.some((t) => t.key === params.tab) ? params.tab : "overview";
  const ctx = makeContext(view, state);
  ctx.current = tab;
  await ctx.show(tab);
}

function makeContext(view, state) {
  const ctx = {
    state,
    current: "overview",
    shownProblems: null,
    /** Every problem: input that does not parse yet, then the server's. */
    problems() {
      return [...state.pending.problems(state.doc), ...state.problems];
    },
    errors() {
      return ctx.problems().filter((p) => p.severity === "error");
    },
    markDirty() {
      state.dirty = true;
      state.edits += 1;
      view.querySelector(".dirty-flag")?.replaceChildren(badge("unsaved changes", "warn"));
      ctx.refreshProblems();
    },
    /** Show *tab*; false if the user must stay (the YAML does not parse, or cannot show the input yet). */
    async show(tab, focusTab = false) {
      if (ctx.current === "yaml" && !(await leaveYaml())) {
        announce("Fix the YAML syntax error before leaving the YAML view.", "error");
        return false;
      }
      const held = state.pending.problems(state.doc);
      if (tab === "yaml" && held.length) {
        // The YAML is the document; text that does not parse is not in it, and a YAML edit
        // would replace the fields holding it.
        announce(`Fix or empty ${held.length} field(s) whose value does not fit before opening the YAML view: ` +
          `${held.map((p) => p.path).join(", ")}.`, "error");
        ctx.refreshProblems(true);
        return false;
      }
      ctx.current = tab;
      if (state.id) history.replaceState(null, "", `#/connectors/${state.id}/${tab}`);
      renderShell(view, ctx, tab, focusTab);
      return true;
    },
    /** Render the current tab's panel again (after an edit that changes its layout). */
    renderPanel() {
      const panel = view.querySelector("#tabpanel");
      const focused = panel.contains(document.activeElement) ? document.activeElement.dataset.path : undefined;
      panel.replaceChildren();
      const tab = TABS.find((t) => t.key === ctx.current);
      tab.render(panel, state, ctx);
      if (!state.canEdit && !READ_ONLY_TABS.has(tab.key)) {
        for (const el of panel.querySelectorAll("input, select, textarea")) el.disabled = true;
        // Read-only: the editing buttons (add, remove) are not offered at all.
        for (const el of panel.querySelectorAll("button.edit")) { el.disabled = true; el.hidden = true; }
      }
      markProblems(panel, state.problems);
      ctx.refreshProblems();
      if (focused) panel.querySelector(`[data-path="${CSS.escape(focused)}"]`)?.focus();
    },
    /** The problem list and the tabs' counts, again if they changed. */
    refreshProblems(force = false) {
      const all = ctx.problems();
      const signature = JSON.stringify(all.map((p) => [p.severity, p.path, p.message]));
      if (!force && signature === ctx.shownProblems) return;
      ctx.shownProblems = signature;
      const box = view.querySelector(".problem-summary");
      if (!box) return;
      const list = problemList(all, { reveal: (path) => ctx.reveal(path), labelOf: tabLabel, open: state.problemsOpen });
      list?.addEventListener("toggle", () => { state.problemsOpen = list.open; });
      mount(box, list);
      for (const tab of TABS) {
        const count = all.filter((p) => p.severity === "error" && tabOf(p.path) === tab.key).length;
        const counter = view.querySelector(`#tab-${tab.key} .count`);
        if (counter) mount(counter, count ? [h("span", { "aria-hidden": "true" }, ` ⚠ ${count}`), h("span", { class: "sr-only" }, ` (${count} problems)`)] : null);
      }
    },
    /** Show the field of *path*: switch to its tab, select what holds it, focus it. */
    async reveal(path) {
      const key = tabOf(path);
      TABS.find((t) => t.key === key).select?.(state, path);
      if (!(await ctx.show(key))) return;
      const panel = view.querySelector("#tabpanel");
      const target = findTarget(panel, path)?.element;
      if (target?.matches("input, select, textarea, button, [role=textbox]")) target.focus();
      else { target?.scrollIntoView({ block: "center" }); panel.focus(); }
    },
    async validate() {
      if (ctx.current === "yaml" && !(await leaveYaml())) return false;
      try {
        const result = await api("POST", "/connectors/validate", body(state));
        state.problems = placed(result.problems);
        await ctx.show(ctx.current);
        const count = ctx.errors().length;
        announce(count ? `${count} problem(s) to fix.` : "The connector is valid.", count ? "error" : "info");
        return count === 0;
      } catch (error) { showError(error); return false; }
    },
    async save() {
      // Format on save: the open YAML and JSON editors (text that does not parse stays as is).
      formatEditors(view.querySelector("#tabpanel"));
      if (ctx.current === "yaml" && !(await leaveYaml())) return false;
      const held = state.pending.problems(state.doc);
      if (held.length) {
        state.problemsOpen = true;
        ctx.refreshProblems(true);
        announce(`Not saved: ${held.length} field(s) hold a value that does not fit (${held.map((p) => p.path).join(", ")}). ` +
          "What you typed is kept: fix or empty it, then save.", "error");
        return false;
      }
      const edits = state.edits;
      try {
        if (!state.id) {
          const created = await api("POST", "/connectors", body(state));
          states.delete("new");
          Object.assign(state, { id: created.id, connector: created, dirty: state.edits !== edits, problems: placed(created.problems) });
          states.set(created.id, state);
          announce(`Created ${created.name} (draft).`);
          go(`/connectors/${created.id}/${ctx.current}`);
          return true;
        }
        const saved = await api("PUT", `/connectors/${state.id}/draft`, body(state));
        // Edits typed while the request was out stay (and stay unsaved).
        if (state.edits === edits) {
          state.doc = structuredClone(saved.document);
          state.files = { ...(saved.files || {}) };
          state.dirty = false;
        }
        state.problems = placed(saved.problems);
        state.connector = await api("GET", `/connectors/${state.id}`);
        announce("Draft saved.");
        await ctx.show(ctx.current);
        return true;
      } catch (error) {
        if (error.problems?.length) {
          state.problems = placed(error.problems);
          await ctx.show(ctx.current);
          announce(`Not saved: ${ctx.errors().length} problem(s) to fix (listed above the tabs, and at their fields).`, "error");
        } else showError(error);
        return false;
      }
    },
  };
  return ctx;
}

function renderShell(view, ctx, tab, focusTab) {
  const { state } = ctx;
  const c = state.connector;
  const status = c ? (c.latest_version ? badge(`published v${c.latest_version}`, "ok") : badge("draft", "warn")) : badge("new", "warn");
  const tabs = h("div", { role: "tablist", "aria-label": "Connector builder", class: "tabs", onkeydown: (e) => arrowKeys(e, ctx) },
    TABS.map(({ key, label }) => h("button", { type: "button", role: "tab", id: `tab-${key}`, "aria-controls": "tabpanel",
      "aria-selected": String(key === tab), tabindex: key === tab ? "0" : "-1", onclick: () => ctx.show(key) },
    label, h("span", { class: "count" }))));
  const panel = h("section", { role: "tabpanel", id: "tabpanel", "aria-labelledby": `tab-${tab}`, tabindex: "0", class: "panel" });
  const actions = state.canEdit ? h("div", { class: "actions" },
    h("span", { class: "dirty-flag" }, state.dirty ? badge("unsaved changes", "warn") : null),
    h("button", { type: "button", onclick: () => ctx.validate() }, "Validate"),
    h("button", { type: "button", class: "primary", onclick: () => ctx.save() }, state.id ? "Save draft" : "Create draft")) :
    h("div", { class: "actions" }, badge("read-only", "neutral"));
  mount(view,
    h("div", { class: "page-head" }, h("div", {}, h("a", { href: "#/connectors" }, "← Connectors"),
      h("h1", {}, state.doc.name || "New connector", " ", status)), actions),
    h("div", { class: "problem-summary" }), tabs, panel);
  ctx.renderPanel();
  ctx.refreshProblems(true);
  if (focusTab) view.querySelector(`#tab-${tab}`).focus();
}

function arrowKeys(event, ctx) {
  const index = TABS.findIndex((t) => t.key === ctx.current);
  let next = null;
  if (event.key === "ArrowRight") next = (index + 1) % TABS.length;
  if (event.key === "ArrowLeft") next = (index - 1 + TABS.length) % TABS.length;
  if (event.key === "Home") next = 0;
  if (event.key === "End") next = TABS.length - 1;
  if (next === null) return;
  event.preventDefault();
  ctx.show(TABS[next].key, true);
}
