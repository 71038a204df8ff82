// The connector index: search, filters, create, import, export, delete.
import { api, announce, showError } from "../api.js";
import { badge, field, h, mount } from "../dom.js";
import { go } from "../router.js";

const TYPES = ["General", "OEM", "DMS", "CRM", "Finance", "Telematics", "Logistics"];

function select(name, label, options) {
  const control = h("select", { name }, h("option", { value: "" }, `Any ${label.toLowerCase()}`),
    options.map((o) => h("option", { value: o }, o)));
  return field(label, control);
}

export async function showIndex(view, params, query, me) {
  const search = h("input", { type: "search", name: "q", placeholder: "Name or slug", value: query.get("q") || "" });
  const filters = h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); load(); } },
    field("Search", search), select("type", "Type", TYPES), select("scope", "Scope", ["catalogue", "enterprise"]),
    select("status", "Status", ["draft", "published"]), h("button", { type: "submit" }, "Filter"));
  const list = h("div", { class: "list", "aria-live": "polite" });
  const actions = h("div", { class: "actions" });
  if (me.can_build_connectors) {
    actions.append(
      h("button", { type: "button", class: "primary", onclick: () => go("/connectors/new") }, "Create connector"),
      importControl(load), openapiControl());
  }
  mount(view, h("div", { class: "page-head" }, h("h1", {}, "Connectors"), actions), filters, list);
  filters.addEventListener("change", load);

  async function load() {
    const data = new FormData(filters);
    const qs = new URLSearchParams([...data].filter(([, v]) => v));
    qs.set("limit", "200");
    try {
      const page = await api("GET", `/connectors?${qs}`);
      const counts = me.user.enterprise_id ? await connectionCounts() : null;
      mount(list, page.items.length ? table(page.items, counts, me, load) :
        h("div", { class: "empty card" }, h("p", {}, "No connectors match."),
          me.can_build_connectors ? h("p", {}, "Create one from scratch, or import a YAML file, a folder archive or an export.") : null));
    } catch (error) { showError(error); }
  }
  await load();
}

async function connectionCounts() {
  const counts = {};
  try {
    const page = await api("GET", "/connections?limit=200");
    for (const c of page.items) counts[c.connector_id] = (counts[c.connector_id] || 0) + 1;
  } catch { /* viewers without connections: counts stay empty */ }
  return counts;
}

function icon(connector) {
  return h("span", { class: "icon", "aria-hidden": "true" }, (connector.name || "?").slice(0, 1).toUpperCase());
}

function table(items, counts, me, reload) {
  return h("table", { class: "grid connectors" },
    h("caption", { class: "sr-only" }, "Connectors"),
    h("thead", {}, h("tr", {}, ["", "Name", "Type", "Scope", "Status", "Connections", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.map((c) => h("tr", {},
      h("td", {}, icon(c)),
      h("td", {}, h("a", { href: `#/connectors/${c.id}/overview` }, c.name), h("div", { class: "muted" }, c.slug)),
      h("td", {}, c.type), h("td", {}, c.scope),
      h("td", {}, c.status === "published" ? badge(`published v${c.latest_version}`, "ok") : badge("draft", "warn"),
        c.has_draft && c.status === "published" ? badge("draft changes", "warn") : null),
      h("td", {}, counts ? String(counts[c.id] || 0) : "–"),
      h("td", { class: "row-actions" },
        h("a", { class: "button", href: `/connectors/${c.id}/export`, download: `${c.slug}.json` }, "Export", h("span", { class: "sr-only" }, ` ${c.name}`)),
        c.can_edit ? h("button", { type: "button", class: "danger", onclick: () => remove(c, reload) }, "Delete", h("span", { class: "sr-only" }, ` ${c.name}`)) : null)))));
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

function importControl(reload) {
  const input = h("input", { type: "file", id: "import-file", class: "sr-only",
    accept: ".yaml,.yml,.json,.zip,.tar.gz,.tgz", onchange: async () => {
      const file = input.files[0];
      input.value = "";
      if (file) await importFile(file, reload);
    } });
  return h("span", {}, input, h("label", { for: "import-file", class: "button", tabindex: "0",
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } } },
    "Import (YAML, JSON, archive, export)"));
}

function openapiControl() {
  const input = h("input", { type: "file", id: "import-openapi-file", class: "sr-only",
    accept: ".yaml,.yml,.json", onchange: async () => {
      const file = input.files[0];
      input.value = "";
      if (file) await importOpenAPI(file);
    } });
  return h("span", {}, input, h("label", { for: "import-openapi-file", class: "button", tabindex: "0",
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } } },
    "Import OpenAPI / Swagger (JSON or YAML)"));
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

/** Import a file: an export file goes to /connectors/import, anything else to /upload. */
export async function importFile(file, reload) {
  const bytes = await file.arrayBuffer();
  let path = "/connectors/upload";
  if (file.name.endsWith(".json")) {
    try {
      const data = JSON.parse(new TextDecoder().decode(bytes));
      if (data?.format === "connectory-connector") path = "/connectors/import";
    } catch { /* not JSON: the server says what is wrong */ }
  }
  try {
    const created = await api("POST", path, bytes);
    const id = created.connector_id || created.id;
    announce(`Imported ${created.name}.`);
    if (id) go(`/connectors/${id}/overview`); else await reload();
  } catch (error) {
    const where = error.problems?.slice(0, 3).map((p) => `${p.file || ""}${p.line ? `:${p.line}` : ""} ${p.path || ""}: ${p.message}`).join("; ");
    showError(where ? new Error(`${error.message} — ${where}`) : error);
  }
}
