// A connection's records: browse a collection page by page, search, open, create, edit, delete.
import { api, announce, showError } from "../api.js";
import { emptyState, field, h, mount } from "../dom.js";
import { go } from "../router.js";
import { markIssues, readRecordForm, recordForm, recordsTable } from "./record-form.js";

function canWrite(me) { return me.user.role === "enterprise_admin"; }

export async function showRecords(view, params, query, me) {
  const base = `/connections/${params.id}/collections`;
  const [connection, collections] = await Promise.all([api("GET", `/connections/${params.id}`), api("GET", base)]);
  const key = params.key || collections[0]?.key;
  const back = h("a", { href: `#/connections/${params.id}` }, `← ${connection.name}`);
  if (!key) { mount(view, back, h("h1", {}, "Records"), emptyState("This connector version has no collections.")); return; }
  const picker = h("select", { id: "collection-pick", onchange: () => go(`/connections/${params.id}/records/${encodeURIComponent(picker.value)}`) },
    collections.map((c) => h("option", { value: c.key, selected: c.key === key }, c.name)));
  const spec = await api("GET", `${base}/${encodeURIComponent(key)}`);
  const url = `${base}/${encodeURIComponent(key)}`;
  const list = h("div", { "aria-live": "polite" });
  const detail = h("div", {});
  let cursors = [null];

  async function load(cursor, q) {
    const search = new URLSearchParams({ page_size: "20" });
    if (cursor) search.set("cursor", cursor);
    if (q) search.set("q", q);
    mount(list, h("p", {}, "Loading…"));
    try {
      const page = await api("GET", `${url}/records?${search}`);
      const next = page.cursor ? h("button", { type: "button", onclick: () => { cursors.push(page.cursor); load(page.cursor); } }, "Next page") : null;
      const previous = cursors.length > 1 && !q ? h("button", { type: "button", onclick: () => { cursors.pop(); load(cursors[cursors.length - 1]); } }, "Previous page") : null;
      mount(list, recordsTable(page.records, { onOpen: open }), h("div", { class: "actions" }, previous, next));
    } catch (error) { mount(list, h("p", { class: "error-text" }, `✗ ${error.message}`)); showError(error); }
  }

  function open(record) {
    const writable = canWrite(me) && spec.methods.update;
    const form = recordForm(spec.fields_schema, { values: record.fields, prefix: "edit", requireRequired: false });
    const save = async (event) => {
      event.preventDefault();
      const changed = readRecordForm(form);
      for (const [k, v] of Object.entries(changed)) if (JSON.stringify(record.fields?.[k]) === JSON.stringify(v)) delete changed[k];
      try {
        const updated = await api("PATCH", `${url}/records/${encodeURIComponent(record.id)}`, { fields: changed });
        announce(`Record ${updated.id} saved.`);
        open(updated);
        load(cursors[cursors.length - 1]);
      } catch (error) { markIssues(form, error.issues); showError(error); }
    };
    const remove = async () => {
      if (!confirm(`Delete record ${record.id}?`)) return;
      try { await api("DELETE", `${url}/records/${encodeURIComponent(record.id)}`); announce(`Record ${record.id} deleted.`); mount(detail); load(cursors[cursors.length - 1]); }
      catch (error) { showError(error); }
    };
    mount(detail, h("section", { class: "card", "aria-label": "Record" },
      h("h2", {}, record.name || `Record ${record.id}`),
      h("p", { class: "muted" }, `id ${record.id}`, record.updated_at ? ` · updated ${record.updated_at}` : ""),
      writable ? h("form", { onsubmit: save }, form, h("div", { class: "actions" },
        h("button", { type: "submit", class: "primary" }, "Save changes"),
        spec.methods.delete ? h("button", { type: "button", class: "danger", onclick: remove }, "Delete") : null))
        : h("pre", { class: "code", tabindex: "0" }, JSON.stringify(record.fields, null, 2))));
  }

  function createForm() {
    const form = recordForm(spec.fields_schema, { prefix: "new" });
    const create = async (event) => {
      event.preventDefault();
      try {
        const created = await api("POST", `${url}/records`, { fields: readRecordForm(form) });
        announce(`Record ${created.id} created.`);
        open(created);
        load(null);
      } catch (error) { markIssues(form, error.issues); showError(error); }
    };
    return h("details", { class: "card" }, h("summary", {}, "New record"),
      h("form", { onsubmit: create }, form, h("button", { type: "submit", class: "primary" }, "Create")));
  }

  const searchBox = h("input", { id: "record-search", type: "search", placeholder: "Search…" });
  const searchForm = spec.methods.search ? h("form", { class: "inline-form", role: "search", onsubmit: (e) => { e.preventDefault(); cursors = [null]; load(null, searchBox.value.trim()); } },
    field("Search", searchBox), h("button", { type: "submit" }, "Search")) : null;
  mount(view, back, h("div", { class: "page-head" }, h("h1", {}, "Records")),
    field("Collection", picker), searchForm,
    spec.methods.list ? list : emptyState("This collection cannot be listed; open a record by id through the API."),
    detail, canWrite(me) && spec.methods.create ? createForm() : null);
  if (spec.methods.list) load(null);
}
