// The connector index: search, filters, create, import, export, delete.
import { api, announce, showError } from "../api.js";
import { diffView } from "../diff.js";
import { badge, emptyState, field, h, mount } from "../dom.js";
import { PAGE_SIZE, pager } from "../pager.js";
import { go } from "../router.js";

const TYPES = ["General", "OEM", "DMS", "CRM", "Finance", "Telematics", "Logistics"];

function select(name, label, options) {
  const control = h("select", { name }, h("option", { value: "" }, `Any ${label.toLowerCase()}`),
    options.map((o) => h("option", { value: o }, o)));
  return field(label, control);
}

const SORTS = [["name", "Name (A–Z)"], ["-name", "Name (Z–A)"], ["-updated", "Recently changed"], ["-created", "Newest first"],
  ["created", "Oldest first"], ["type", "Type"]];

export async function showIndex(view, params, query, me) {
  const search = h("input", { type: "search", name: "q", placeholder: "Name or slug", value: query.get("q") || "" });
  const sort = h("select", { name: "sort" }, SORTS.map(([value, text]) => h("option", { value }, text)));
  const filters = h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); offset = 0; load(); } },
    field("Search", search), select("type", "Type", TYPES), select("scope", "Scope", ["catalogue", "enterprise"]),
    select("status", "Status", ["draft", "published"]), field("Sort by", sort), h("button", { type: "submit" }, "Filter"));
  const list = h("div", { class: "list", "aria-live": "polite", "aria-busy": "true" }, h("p", { class: "muted loading" }, "Loading connectors…"));
  const pages = pager("Pages of connectors", (to) => { offset = to; load(); }, "connector");
  const actions = h("div", { class: "actions" });
  let offset = 0;
  if (me.can_build_connectors) {
    actions.append(
      h("button", { type: "button", class: "primary", onclick: () => go("/connectors/new") }, "Create connector"),
      importControl(load), openapiControl());
  }
  mount(view, h("div", { class: "page-head" }, h("h1", {}, "Connectors"), actions), filters, list, pages.element);
  filters.addEventListener("change", () => { offset = 0; load(); });

  async function load() {
    const data = new FormData(filters);
    const qs = new URLSearchParams([...data].filter(([, v]) => v));
    qs.set("limit", String(PAGE_SIZE));
    qs.set("offset", String(offset));
    list.setAttribute("aria-busy", "true");
    try {
      const page = await api("GET", `/connectors?${qs}`);
      if (!page.items.length && offset > 0) { offset = Math.max(0, offset - PAGE_SIZE); await load(); return; }
      const counts = me.user.enterprise_id ? await connectionCounts() : null;
      mount(list, page.items.length ? table(page.items, counts, me, load) :
        emptyState("No connectors match.",
          me.can_build_connectors ? "Create one from scratch, or import a YAML file, a folder archive or an export." : null));
      pages.show(page);
    } catch (error) { showError(error); } finally { list.setAttribute("aria-busy", "false"); }
  }

  await load();
}

async function connectionCounts() {
  const counts = {};
  try {
    // Fifty a page (the API's cap): enough to count the connections of the connectors shown.
    for (let offset = 0, total = 1; offset < total && offset < 1000; offset += 50) {
      const page = await api("GET", `/connections?limit=50&offset=${offset}`);
      for (const c of page.items) counts[c.connector_id] = (counts[c.connector_id] || 0) + 1;
      total = page.total;
    }
  } catch { /* viewers without connections: counts stay empty */ }
  return counts;
}

function icon(connector) {
  return h("span", { class: "icon", "aria-hidden": "true" }, (connector.name || "?").slice(0, 1).toUpperCase());
}

function table(items, counts, me, reload) {
  return h("table", { class: "grid connectors" },
    h("caption", { class: "sr-only" }, "Connectors"),
    h("thead", {}, h("tr", {}, ["", "Name", "Type", "Scope", "Status", "Changed", "Connections", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.map((c) => h("tr", {},
      h("td", {}, icon(c)),
      h("td", {}, h("a", { href: `#/connectors/${c.id}/overview` }, c.name), h("div", { class: "muted" }, c.slug)),
      h("td", {}, c.type), h("td", {}, c.scope),
      h("td", {}, c.status === "published" ? badge(`published v${c.latest_version}`, "ok") : badge("draft", "warn"),
        c.has_draft && c.status === "published" ? badge("draft changes", "warn") : null),
      h("td", { class: "muted" }, c.updated_at ? new Date(c.updated_at).toLocaleDateString() : "–"),
      h("td", {}, counts ? String(counts[c.id] || 0) : "–"),
      h("td", { class: "row-actions" },
        h("button", { type: "button", onclick: () => exportDialog(c) }, "Export…", h("span", { class: "sr-only" }, ` ${c.name}`)),
        me.can_build_connectors ? h("button", { type: "button", onclick: () => duplicate(c) }, "Duplicate", h("span", { class: "sr-only" }, ` ${c.name}`)) : null,
        c.can_edit ? h("button", { type: "button", class: "danger", onclick: () => remove(c, reload) }, "Delete", h("span", { class: "sr-only" }, ` ${c.name}`)) : null)))));
}

/** Choose what to export: a published version (latest first) or the draft; then download it. */
async function exportDialog(connector) {
  let versions = [];
  try {
    versions = (await api("GET", `/connectors/${connector.id}/versions?limit=50`)).items;
  } catch (error) { showError(error); return; }
  const choices = [...(connector.has_draft || !connector.latest_version ? [["draft", "Draft (not published)"]] : []),
    ...versions.map((v, i) => [v.version, `v${v.version}${i === 0 ? " (latest)" : ""}${v.published_at ? ` · ${new Date(v.published_at).toLocaleDateString()}` : ""}`])];
  const version = h("select", { id: "export-version" }, choices.map(([value, text]) => h("option", { value, selected: value === connector.latest_version }, text)));
  const openapi = h("input", { type: "checkbox", id: "export-openapi" });
  // Every published version rides along, frozen, so another Connectory can rebuild the history.
  const history = h("input", { type: "checkbox", id: "export-history", disabled: !versions.length, "aria-describedby": "export-history-help" });
  const link = h("a", { class: "button primary", download: "" }, "Download");
  const update = () => {
    const qs = new URLSearchParams({ version: version.value });
    if (openapi.checked) qs.set("include_openapi", "true");
    if (history.checked) qs.set("history", "true");
    link.href = `/connectors/${connector.id}/export?${qs}`;
    link.download = `${connector.slug}-${version.value}${history.checked ? "-history" : ""}.json`;
  };
  version.addEventListener("change", update);
  openapi.addEventListener("change", update);
  history.addEventListener("change", update);
  update();
  const dialog = h("dialog", { class: "card small-dialog", "aria-labelledby": "export-title" },
    h("h2", { id: "export-title" }, `Export ${connector.name}`),
    h("p", { class: "help" }, "One JSON file with the version's document and code files; secrets are never included. " +
      "Import it on another Connectory with Import."),
    field("Version", version),
    h("div", { class: "field inline" }, openapi, h("label", { for: openapi.id }, "Include the OpenAPI description kept with the version")),
    h("div", { class: "field inline" }, history, h("label", { for: history.id }, "With version history")),
    h("p", { class: "help", id: "export-history-help" }, versions.length ?
      `Adds every published version (${versions.length}${versions.length === 50 ? "+" : ""}: documents, code files, changelogs, publish times), oldest first.` :
      "Nothing is published yet: there is no history to add."),
    h("div", { class: "actions" }, link, h("button", { type: "button", onclick: () => dialog.close() }, "Close")));
  link.addEventListener("click", () => { announce(`Exporting ${connector.name} ${version.value}.`); setTimeout(() => dialog.close(), 0); });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

/** Copy a connector (its draft if you may see it, else its latest version) into a new draft. */
async function duplicate(connector) {
  try {
    const source = await api("GET", `/connectors/${connector.id}/versions/${connector.has_draft ? "draft" : "latest"}`);
    const document = structuredClone(source.document);
    document.name = `${connector.name} (copy)`;
    for (let n = 1; n <= 20; n += 1) {
      document.slug = `${connector.slug}-copy${n > 1 ? `-${n}` : ""}`.slice(0, 64);
      try {
        const created = await api("POST", "/connectors", { document, files: source.files || {} });
        announce(`Duplicated ${connector.name} as ${created.name} (${created.slug}), a new draft.`);
        go(`/connectors/${created.id}/overview`);
        return;
      } catch (error) {
        if (error.status !== 409) throw error; // a taken slug: try the next one
      }
    }
    announce(`No free slug found for a copy of ${connector.slug}: rename a copy first.`, "error");
  } catch (error) { showError(error); }
}

async function remove(connector, reload) {
  if (!confirm(`Delete the connector "${connector.name}"? Its versions stay on record.`)) return;
  try {
    await api("DELETE", `/connectors/${connector.id}`);
    announce(`Deleted ${connector.name}.`);
    await reload();
  } catch (error) {
    showError(error); // 409 says how many connections still use it
  }
}

/**
 * A button that opens a file chooser: one tab stop (the file input itself is hidden and
 * clicked by the button), named by the button's text.
 */
function fileButton(id, text, accept, onFile) {
  const input = h("input", { type: "file", id, hidden: true, tabindex: "-1", accept, onchange: async () => {
    const file = input.files[0];
    input.value = "";
    if (file) await onFile(file);
  } });
  return h("span", {}, input, h("button", { type: "button", onclick: () => input.click() }, text));
}

function importControl(reload) {
  return fileButton("import-file", "Import (YAML, JSON, archive, export)", ".yaml,.yml,.json,.zip,.tar.gz,.tgz", (file) => importFile(file, reload));
}

function openapiControl() {
  return fileButton("import-openapi-file", "Import OpenAPI / Swagger (JSON or YAML)", ".yaml,.yml,.json", importOpenAPI);
}

/**
 * Import an OpenAPI 3 / Swagger 2 document: a dry run first, so the user reviews the warnings
 * and picks the pagination and collection suggestions to accept; then the draft is created
 * and opened.
 */
export async function importOpenAPI(file) {
  const bytes = await file.arrayBuffer();
  const contentType = file.name.endsWith(".json") ? "application/json" : "application/yaml";
  announce(`Reading ${file.name}…`);
  let review;
  try {
    review = await api("POST", "/connectors/import-openapi?dry_run=true", bytes, { contentType });
  } catch (error) {
    showImportError(error);
    return;
  }
  const name = review.document?.name || file.name;
  openapiReview(review, name, async (accepted, collections) => {
    const query = [
      ...accepted.map((op) => `accept_pagination_for=${encodeURIComponent(op)}`),
      ...collections.map((key) => `accept_collection=${encodeURIComponent(key)}`),
    ].join("&");
    const created = await api("POST", `/connectors/import-openapi${query ? `?${query}` : ""}`, bytes, { contentType });
    const added = [
      accepted.length ? `pagination accepted for ${accepted.length}` : null,
      collections.length ? `${collections.length} collection(s) added` : null,
    ].filter(Boolean);
    announce(`Created ${name} from OpenAPI ${created.openapi_version}: ${created.operations} operation(s)` +
      (added.length ? `, ${added.join(", ")}.` : "."));
    go(`/connectors/${created.connector_id}/overview`);
  });
}

function showImportError(error) {
  const where = error.problems?.slice(0, 5).map((p) => `${p.pointer || p.path || ""}: ${p.message}`).join("; ");
  showError(where ? new Error(`${error.message} — ${where}`) : error);
}

function openapiReview(result, name, create) {
  const headingId = "openapi-report-title";
  const choices = result.suggestions.map((s, i) => {
    const box = h("input", { type: "checkbox", id: `accept-suggestion-${i}`, value: s.operation });
    const what = `${s.pagination?.type || "pagination"}${s.record_selector ? `, records at ${s.record_selector}` : ""}`;
    return { box, item: h("li", {}, box, h("label", { for: box.id }, `Paginate ${s.operation} (${what})`),
      h("span", { class: "muted" }, ` — ${s.reason}`)) };
  });
  // A suggested collection per CRUD-shaped resource: ticked ones are added to the draft.
  const collections = (result.collection_suggestions || []).map((s, i) => {
    const box = h("input", { type: "checkbox", id: `accept-collection-${i}`, value: s.key });
    const methods = Object.keys(s.collection?.methods || {}).join(", ");
    return { box, item: h("li", {}, box, h("label", { for: box.id }, `Collection ${s.key}${methods ? ` (${methods})` : ""}`),
      h("span", { class: "muted" }, ` — ${s.reason}`)) };
  });
  const createButton = h("button", { type: "button", class: "primary", onclick: async () => {
    createButton.disabled = true;
    try {
      await create(choices.filter((c) => c.box.checked).map((c) => c.box.value),
        collections.filter((c) => c.box.checked).map((c) => c.box.value));
      dialog.close();
    } catch (error) {
      createButton.disabled = false;
      showImportError(error);
    }
  } }, "Create the draft");
  const dialog = h("dialog", { class: "card openapi-report", "aria-labelledby": headingId },
    h("h2", { id: headingId, tabindex: "-1" }, `Import ${name}`),
    h("p", {}, `OpenAPI ${result.openapi_version} · ${result.operations} operation(s)`,
      result.auth_scheme ? ` · auth from the security scheme "${result.auth_scheme}"` : " · no auth scheme used"),
    h("section", { "aria-label": "Import warnings" }, h("h3", {}, `Warnings (${result.warnings.length})`),
      result.warnings.length ? h("ul", { class: "import-warnings" }, result.warnings.map((w) =>
        h("li", {}, h("code", {}, w.pointer || "/"), " ", w.message))) : h("p", { class: "muted" }, "None.")),
    h("section", { "aria-label": "Pagination suggestions" }, h("h3", {}, `Pagination suggestions (${choices.length})`),
      choices.length ? [h("p", { class: "help" }, "Tick the suggestions to apply; the rest can be added later in the Operations tab."),
        h("ul", { class: "import-suggestions" }, choices.map((c) => c.item))] :
        h("p", { class: "muted" }, "None.")),
    collections.length ? h("section", { "aria-label": "Collection suggestions" },
      h("h3", {}, `Collection suggestions (${collections.length})`),
      h("p", { class: "help" }, "Tick the collections to create; each reads and writes one kind of record in one shape. The rest can be added later in the Data tab."),
      h("ul", { class: "import-suggestions" }, collections.map((c) => c.item))) : null,
    result.problems?.length ? h("section", { "aria-label": "Checks" }, h("h3", {}, `Checks (${result.problems.length})`),
      h("ul", {}, result.problems.map((p) => h("li", {}, badge(p.severity, p.severity === "error" ? "bad" : "warn"), ` ${p.path || "connector"}: ${p.message}`)))) : null,
    h("div", { class: "actions" }, createButton,
      h("button", { type: "button", onclick: () => dialog.close() }, "Cancel")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  dialog.querySelector("h2").focus();
}

/** Import a file: an export file is reviewed first (a dry run), anything else goes to /upload. */
export async function importFile(file, reload) {
  const bytes = await file.arrayBuffer();
  if (file.name.endsWith(".json")) {
    try {
      const data = JSON.parse(new TextDecoder().decode(bytes));
      if (data?.format === "connectory-connector") { await reviewImport(bytes, file.name); return; }
    } catch { /* not JSON: the server says what is wrong */ }
  }
  try {
    const created = await api("POST", "/connectors/upload", bytes);
    const id = created.connector_id || created.id;
    announce(`Imported ${created.name}.`);
    if (id) go(`/connectors/${id}/overview`); else await reload();
  } catch (error) { showUploadError(error); }
}

function showUploadError(error) {
  const where = error.problems?.slice(0, 3).map((p) => `${p.file || ""}${p.line ? `:${p.line}` : ""} ${p.path || ""}: ${p.message}`).join("; ");
  showError(where ? new Error(`${error.message} — ${where}`) : error);
}

/**
 * An export file: the dry run says what the import would do (a new connector, or the next
 * draft of one here) and shows the diff against its latest version; nothing changes until
 * Import. A file whose slug and version exist here already may go in as a new draft.
 */
async function reviewImport(bytes, fileName, asNewVersion = false, withHistory = false, focus = "h2") {
  const params = new URLSearchParams();
  if (asNewVersion) params.set("as_new_version", "true");
  if (withHistory) params.set("history", "true");
  const extra = params.toString();
  let review;
  try {
    review = await api("POST", `/connectors/import?dry_run=true${extra ? `&${extra}` : ""}`, bytes);
  } catch (error) {
    // With history, a clash is not solved by a new draft: the message says what to do.
    if (error.status === 409 && !asNewVersion && !withHistory && confirm(`${error.message}\n\nImport it as the next draft of that connector?`)) {
      await reviewImport(bytes, fileName, true);
    } else showUploadError(error);
    return;
  }
  const carried = historyOf(bytes);
  const what = review.action === "create" ? `A new connector, ${review.name} (${review.slug}), in the ${review.scope}` :
    `The next draft of ${review.name} (${review.slug}), in the ${review.scope}`;
  const importButton = h("button", { type: "button", class: "primary", onclick: async () => {
    importButton.disabled = true;
    try {
      const done = await api("POST", `/connectors/import${extra ? `?${extra}` : ""}`, bytes);
      dialog.close();
      const made = done.history ? ` with ${done.history.filter((s) => s.action === "create").length} published version(s)${done.draft ? " and a draft" : ""}` :
        done.action === "new_draft" ? " as its next draft" : "";
      announce(`Imported ${done.name}${made}.`);
      go(`/connectors/${done.connector_id}/overview`);
    } catch (error) { importButton.disabled = false; showUploadError(error); }
  } }, "Import");
  // Switching history on or off asks the server again: the plan and the diff change with it.
  const historyBox = h("input", { type: "checkbox", id: "import-history", checked: withHistory, "aria-describedby": "import-history-help", onchange: () => {
    dialog.close();
    reviewImport(bytes, fileName, asNewVersion && !historyBox.checked, historyBox.checked, "#import-history");
  } });
  const historyChoice = carried.length ? h("section", { "aria-label": "Version history" },
    h("div", { class: "field inline" }, historyBox, h("label", { for: historyBox.id }, "With version history")),
    h("p", { class: "help", id: "import-history-help" }, withHistory ?
      "The file's published versions become published versions here, in order, with their publish times; the file's own version follows as the draft when it is not the last of them." :
      `The file carries ${carried.length} published version(s) (${carried[0]} to ${carried[carried.length - 1]}); without history only its own version comes in, as a draft.`),
    review.history ? h("ul", { class: "import-history" }, review.history.map((step) =>
      h("li", {}, `v${step.version} `, step.action === "create" ? badge("published by the import", "ok") : badge("here already, the same", "neutral")))) : null) : null;
  const dialog = h("dialog", { class: "card openapi-report", "aria-labelledby": "import-review-title" },
    h("h2", { id: "import-review-title", tabindex: "-1" }, `Import ${fileName}`),
    h("p", {}, what, review.version_in_file ? ` · exported from v${review.version_in_file}` : " · exported from a draft"),
    historyChoice,
    review.problems.length ? h("section", { "aria-label": "Warnings" }, h("h3", {}, `Warnings (${review.problems.length})`),
      h("ul", {}, review.problems.map((p) => h("li", {}, badge(p.severity, p.severity === "error" ? "bad" : "warn"), ` ${p.path || "connector"}: ${p.message}`)))) : null,
    h("section", { "aria-label": "Changes" }, h("h3", {}, "Changes against the latest version here"),
      review.diff ? diffView(review.diff.unified) : h("p", { class: "muted" }, "Nothing is published under this slug here: it comes in whole.")),
    h("div", { class: "actions" }, importButton, h("button", { type: "button", onclick: () => dialog.close() }, "Cancel")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  dialog.querySelector(focus).focus();
}

/** The versions an export file's ``history`` lists (empty when it carries none). */
function historyOf(bytes) {
  try {
    const data = JSON.parse(new TextDecoder().decode(bytes));
    return Array.isArray(data.history) ? data.history.map((entry) => String(entry?.version)) : [];
  } catch { return []; }
}
