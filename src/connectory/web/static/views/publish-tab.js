// The Publish tab: the checklist, the bump and scope, the changelog; version history and diffs.
import { diffView } from "../diff.js";
import { api, announce, showError } from "../api.js";
import { badge, emptyState, field, h, mount } from "../dom.js";
import { lastTests } from "./test-tab.js";

export async function renderPublish(panel, state, ctx) {
  if (!state.id) { panel.append(emptyState("Create the draft first.")); return; }
  const checks = h("section", { "aria-label": "Checklist" }, h("p", {}, "Loading the checklist…"));
  const history = h("section", { "aria-label": "Version history" });
  panel.append(checks, history);
  if (state.dirty) checks.prepend(h("p", { class: "error-text" }, "⚠ You have unsaved changes: save the draft first; the checklist shows the saved draft."));
  await Promise.all([loadChecklist(checks, state, ctx), loadHistory(history, state)]);
}

async function loadChecklist(box, state, ctx) {
  if (!state.connector?.has_draft && !state.dirty) {
    mount(box, emptyState("Nothing to publish: there is no draft. Edit and save to start one."));
    return;
  }
  let preview;
  try { preview = await api("GET", `/connectors/${state.id}/publish-preview`); } catch (error) { showError(error); return; }
  const test = lastTests.get(state.id);
  const items = [...preview.checks.map((c) => [c.ok, c.name, c.message]),
    [!!test?.passed, "last test passed", test ? `${test.what} at ${test.at.toLocaleTimeString()}` : "run the Test tab first (recommended)"]];
  const hasSchema = (state.doc.operations || []).some((op) => op.response_schema);
  items.push([hasSchema, "an operation has a response schema", hasSchema ? "" : "add a response schema so tests can check responses"]);
  items.push([!!state.doc.resilience && Object.keys(state.doc.resilience).length > 0, "resilience set", "Resilience tab (defaults apply otherwise)"]);
  const bumps = Object.entries(preview.next_versions || {});
  const suggested = preview.suggested_bump?.bump;
  const bumpBox = h("fieldset", {}, h("legend", {}, "Version"), bumps.length && preview.latest_version
    ? bumps.map(([bump, version]) => h("div", { class: "field inline" },
      h("input", { type: "radio", name: "bump", id: `bump-${bump}`, value: bump, checked: bump === suggested }),
      h("label", { for: `bump-${bump}` }, `${bump} → v${version}`, bump === suggested ? " (suggested)" : "")))
    : h("p", {}, `First publish: v${preview.next_versions?.major || "1.0.0"}`),
    preview.suggested_bump?.reasons?.length ? h("ul", { class: "help" }, preview.suggested_bump.reasons.map((r) => h("li", {}, r))) : null);
  const platform = state.me.user.role === "platform_admin";
  const scope = h("select", { id: "publish-scope", disabled: true },
    h("option", { value: platform ? "catalogue" : "enterprise" }, platform ? "Catalogue (all enterprises)" : "Enterprise (your enterprise only)"));
  const changelog = h("textarea", { id: "changelog", rows: 3 });
  const publish = async (event) => {
    event.preventDefault();
    const bump = box.querySelector("input[name=bump]:checked")?.value;
    if (!confirm("Publish this draft? The version is frozen once published.")) return;
    try {
      const body = { changelog: changelog.value || undefined, scope: scope.value };
      if (bump) body.bump = bump;
      const result = await api("POST", `/connectors/${state.id}/publish`, body);
      announce(`Published v${result.version.version}.`);
      state.connector = await api("GET", `/connectors/${state.id}`);
      ctx.show("publish");
    } catch (error) { showError(error); }
  };
  mount(box, h("h2", {}, "Before you publish"),
    h("ul", { class: "checklist" }, items.map(([ok, name, message]) => h("li", {}, badge(ok ? "✓" : "✗", ok ? "ok" : "bad"), ` ${name}`,
      message ? h("span", { class: "muted" }, ` — ${message}`) : null))),
    preview.problems?.length ? h("p", { class: "error-text" }, `${preview.problems.length} problem(s): see the list above the tabs.`) : null,
    state.canEdit ? h("form", { class: "publish-form", onsubmit: publish }, bumpBox,
      field("Scope", scope, { help: platform ? "Platform admins publish to the catalogue." : "Enterprise admins publish to their enterprise." }),
      field("Changelog", changelog),
      h("button", { type: "submit", class: "primary", disabled: !preview.ready }, "Publish"),
      preview.ready ? null : h("span", { class: "help" }, " Publishing is possible once every server check passes.")) : null,
    preview.diff?.unified ? h("details", {}, h("summary", {}, "Changes against the latest version"), diffView(preview.diff.unified)) : null);
}

async function loadHistory(box, state) {
  let page;
  try { page = await api("GET", `/connectors/${state.id}/versions`); } catch (error) { showError(error); return; }
  const diffOut = h("div", {});
  const showDiff = async (version) => {
    try {
      const diff = await api("GET", `/connectors/${state.id}/diff?from=${encodeURIComponent(version)}&to=${state.connector.has_draft ? "draft" : "latest"}`);
      mount(diffOut, h("h3", {}, `v${version} → ${state.connector.has_draft ? "draft" : "latest"}`), diffView(diff.unified));
    } catch (error) { showError(error); }
  };
  mount(box, h("h2", {}, "Version history"), page.items.length ? h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, ["Version", "Published", "Changelog", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, page.items.map((v) => h("tr", {}, h("td", {}, `v${v.version}`),
      h("td", {}, v.published_at ? new Date(v.published_at).toLocaleString() : ""), h("td", {}, v.changelog || "—"),
      h("td", {}, h("button", { type: "button", onclick: () => showDiff(v.version) }, "Diff", h("span", { class: "sr-only" }, ` v${v.version}`)))))))
    : emptyState("Not published yet."), diffOut);
}
