// The builder of one connector: a tablist over one in-memory document, saved as the draft.
import { api, announce, showError } from "../api.js";
import { badge, h, mount } from "../dom.js";
import { go } from "../router.js";
import { renderAuth, renderOverview, renderResilience } from "./builder-tabs.js";
import { renderEvents } from "./events-tab.js";
import { renderOperations } from "./operations.js";
import { renderPublish } from "./publish-tab.js";
import { renderTest } from "./test-tab.js";
import { leaveYaml, renderYaml } from "./yaml-view.js";

const TABS = [
  ["overview", "Overview", renderOverview],
  ["auth", "Auth & Credentials", renderAuth],
  ["operations", "Operations", renderOperations],
  ["resilience", "Resilience", renderResilience],
  ["events", "Events", renderEvents],
  ["test", "Test", renderTest],
  ["publish", "Publish", renderPublish],
  ["yaml", "YAML", renderYaml],
];

// Builders kept between tab switches and route changes (the in-memory document survives).
const states = new Map();

function blankDocument() {
  return { name: "", slug: "", type: "General", description: "", base_url: "https://",
    auth: { auth_type: "none", credential_schema: {} }, operations: [] };
}

async function loadState(id) {
  if (!id) return { id: null, connector: null, doc: blankDocument(), dirty: true, problems: [], canEdit: true };
  const connector = await api("GET", `/connectors/${id}`);
  let doc = connector.latest?.document;
  let problems = [];
  if (connector.has_draft) {
    const draft = await api("GET", `/connectors/${id}/draft`);
    doc = draft.document;
    problems = draft.problems;
  }
  return { id, connector, doc: structuredClone(doc || blankDocument()), dirty: false, problems, canEdit: connector.can_edit };
}

/** Which tab a problem's field path belongs to. */
export function tabOf(path) {
  if (!path) return "overview";
  if (path.startsWith("operations")) return "operations";
  if (path.startsWith("auth")) return "auth";
  if (path.startsWith("resilience")) return "resilience";
  if (path.startsWith("events")) return "events";
  return "overview";
}

export async function showBuilder(view, params, me) {
  const key = params.id || "new";
  let state = states.get(key);
  if (!state) {
    state = await loadState(params.id);
    states.set(key, state);
  }
  state.me = me;
  const tab = TABS.some(([k]) => k === params.tab) ? params.tab : "overview";
  const ctx = makeContext(view, state);
  ctx.current = tab;
  await ctx.show(tab);
}

function makeContext(view, state) {
  const ctx = {
    state,
    current: "overview",
    markDirty() {
      state.dirty = true;
      view.querySelector(".dirty-flag")?.replaceChildren(badge("unsaved changes", "warn"));
    },
    async show(tab, focusTab = false) {
      if (ctx.current === "yaml" && !(await leaveYaml())) {
        announce("Fix the YAML syntax error before leaving the YAML view.", "error");
        return;
      }
      ctx.current = tab;
      if (state.id) history.replaceState(null, "", `#/connectors/${state.id}/${tab}`);
      renderShell(view, ctx, tab, focusTab);
    },
    async validate() {
      if (ctx.current === "yaml" && !(await leaveYaml())) return false;
      try {
        const result = await api("POST", "/connectors/validate", { document: state.doc });
        state.problems = result.problems;
        ctx.show(ctx.current);
        announce(result.ok ? "The connector is valid." : `${errors(state).length} problem(s) to fix.`, result.ok ? "info" : "error");
        return result.ok;
      } catch (error) { showError(error); return false; }
    },
    async save() {
      if (ctx.current === "yaml" && !(await leaveYaml())) return false;
      try {
        if (!state.id) {
          const created = await api("POST", "/connectors", { document: state.doc });
          states.delete("new");
          Object.assign(state, { id: created.id, connector: created, dirty: false, problems: created.problems || [] });
          states.set(created.id, state);
          announce(`Created ${created.name} (draft).`);
          go(`/connectors/${created.id}/${ctx.current}`);
          return true;
        }
        const saved = await api("PUT", `/connectors/${state.id}/draft`, { document: state.doc });
        state.doc = structuredClone(saved.document);
        state.dirty = false;
        state.problems = saved.problems || [];
        state.connector = await api("GET", `/connectors/${state.id}`);
        announce("Draft saved.");
        ctx.show(ctx.current);
        return true;
      } catch (error) {
        if (error.problems?.length) {
          state.problems = error.problems;
          ctx.show(ctx.current);
          announce(`Not saved: ${errors(state).length} problem(s) to fix (shown at their fields).`, "error");
        } else showError(error);
        return false;
      }
    },
  };
  return ctx;
}

function errors(state) {
  return state.problems.filter((p) => p.severity === "error");
}

function renderShell(view, ctx, tab, focusTab) {
  const { state } = ctx;
  const c = state.connector;
  const status = c ? (c.latest_version ? badge(`published v${c.latest_version}`, "ok") : badge("draft", "warn")) : badge("new", "warn");
  const tabs = h("div", { role: "tablist", "aria-label": "Connector builder", class: "tabs", onkeydown: (e) => arrowKeys(e, ctx) },
    TABS.map(([k, label]) => {
      const count = errors(state).filter((p) => tabOf(p.path) === k).length;
      return h("button", { type: "button", role: "tab", id: `tab-${k}`, "aria-controls": "tabpanel", "aria-selected": String(k === tab),
        tabindex: k === tab ? "0" : "-1", onclick: () => ctx.show(k) }, label,
        count && ["overview", "auth", "operations", "resilience", "events"].includes(k) ? h("span", { class: "count", "aria-label": `${count} problems` }, ` ⚠ ${count}`) : null);
    }));
  const panel = h("section", { role: "tabpanel", id: "tabpanel", "aria-labelledby": `tab-${tab}`, tabindex: "0", class: "panel" });
  const actions = state.canEdit ? h("div", { class: "actions" },
    h("span", { class: "dirty-flag" }, state.dirty ? badge("unsaved changes", "warn") : null),
    h("button", { type: "button", onclick: () => ctx.validate() }, "Validate"),
    h("button", { type: "button", class: "primary", onclick: () => ctx.save() }, state.id ? "Save draft" : "Create draft")) :
    h("div", { class: "actions" }, badge("read-only", "neutral"));
  mount(view,
    h("div", { class: "page-head" }, h("div", {}, h("a", { href: "#/connectors" }, "← Connectors"),
      h("h1", {}, state.doc.name || "New connector", " ", status)), actions),
    problemSummary(ctx), tabs, panel);
  const render = TABS.find(([k]) => k === tab)[2];
  render(panel, state, ctx);
  if (!state.canEdit && !["test", "publish"].includes(tab)) {
    for (const el of panel.querySelectorAll("input, select, textarea")) el.disabled = true;
    // Read-only: the editing buttons (add, remove) are not offered at all.
    for (const el of panel.querySelectorAll("button.edit")) { el.disabled = true; el.hidden = true; }
  }
  markFields(panel, state.problems);
  if (focusTab) view.querySelector(`#tab-${tab}`).focus();
}

function problemSummary(ctx) {
  const list = ctx.state.problems;
  if (!list.length) return null;
  return h("details", { class: "problems card", open: errors(ctx.state).length > 0 },
    h("summary", {}, `${errors(ctx.state).length} error(s), ${list.length - errors(ctx.state).length} warning(s)`),
    h("ul", {}, list.map((p) => h("li", {}, badge(p.severity, p.severity === "error" ? "bad" : "warn"), " ",
      h("button", { type: "button", class: "link", onclick: () => ctx.show(tabOf(p.path)) }, p.path || "connector"),
      p.line ? ` (line ${p.line})` : "", `: ${p.message}`))));
}

/** Show each problem at its field (the control whose data-path matches, or the nearest parent). */
export function markFields(panel, problems) {
  for (const p of problems) {
    if (!p.path) continue;
    let path = p.path;
    let control = null;
    while (path && !(control = panel.querySelector(`[data-path="${CSS.escape(path)}"]`))) {
      path = path.replace(/(\.[^.[\]]+|\[[^\]]*\])$/, "");
      if (path === p.path) break;
    }
    if (!control) continue;
    control.setAttribute("aria-invalid", "true");
    const box = control.closest(".field")?.querySelector(".error");
    if (box) box.textContent = `${box.textContent ? `${box.textContent} ` : ""}⚠ ${p.message}`;
  }
}

function arrowKeys(event, ctx) {
  const index = TABS.findIndex(([k]) => k === ctx.current);
  let next = null;
  if (event.key === "ArrowRight") next = (index + 1) % TABS.length;
  if (event.key === "ArrowLeft") next = (index - 1 + TABS.length) % TABS.length;
  if (event.key === "Home") next = 0;
  if (event.key === "End") next = TABS.length - 1;
  if (next === null) return;
  event.preventDefault();
  ctx.show(TABS[next][0], true);
}
