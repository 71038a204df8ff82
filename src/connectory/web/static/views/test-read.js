// The Test tab's read: the records extracted, each page's request and response on demand, and the
// schema inferred from the records with its difference to the declared one (adopted in one click).
import { announce } from "../api.js";
import { badge, emptyState, h } from "../dom.js";
import { adoptRecordSchema, inferSchema, recordSchemaOf, resolveRef, schemaDiff } from "../schema-infer.js";

const MAX_COLUMNS = 8;

function cellText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") {
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 59)}…` : text;
  }
  return String(value);
}

/** The records a run extracted: every page's kept records, or the single answer's. */
export function recordsOf(result) {
  if (result.pages?.length) return result.pages.flatMap((page) => page.records || []);
  return result.records || [];
}

/** A table of records, its first columns the records' top-level keys in the order first seen. */
export function recordsTable(records) {
  const objects = records.every((r) => r && typeof r === "object" && !Array.isArray(r));
  const keys = [];
  if (objects) for (const record of records) for (const key of Object.keys(record)) if (!keys.includes(key)) keys.push(key);
  const columns = objects ? keys.slice(0, MAX_COLUMNS) : ["value"];
  const hidden = objects ? keys.length - columns.length : 0;
  const row = (record) => (objects ? columns.map((key) => record[key]) : [record]);
  return h("section", { class: "records-read", "aria-label": "Records" },
    h("h4", {}, `Records: ${records.length}`, hidden ? h("span", { class: "muted" }, ` (first ${columns.length} of ${keys.length} fields shown)`) : null),
    records.length ? h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Records table" },
      h("table", { class: "grid records-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "#"), columns.map((key) => h("th", { scope: "col" }, key)))),
        h("tbody", {}, records.map((record, i) => h("tr", {}, h("td", {}, i + 1),
          row(record).map((value) => h("td", { title: typeof value === "object" && value !== null ? JSON.stringify(value) : undefined }, cellText(value))))))))
      : emptyState("No records extracted.", "Check the record selector: it says where the records are in the response."));
}

function exchangeText(sent) {
  return `${sent.method} ${sent.url}\n${Object.entries(sent.headers || {}).map(([k, v]) => `${k}: ${v}\n`).join("")}${sent.body ? `\n${sent.body}` : ""}`;
}

/** Each page read, with its request and response (redacted by the server) behind a disclosure. */
export function pagesRead(pages, error) {
  return h("section", { class: "pages-read", "aria-label": "Pages read" },
    h("h4", {}, `Pages read: ${pages.length}`),
    h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ["#", "Status", "Records", "Time", "Schema", "URL"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, pages.map((p) => h("tr", {},
        h("td", {}, p.number), h("td", {}, p.status_code), h("td", {}, p.record_count),
        h("td", {}, `${(p.elapsed * 1000).toFixed(0)} ms`),
        h("td", {}, p.schema_mismatches.length ? `✗ ${p.schema_mismatches.length}` : "✓"),
        h("td", { class: "url" }, p.url))))),
    pages.filter((p) => p.request).map((p) => h("details", { class: "page-exchange" },
      h("summary", {}, `Page ${p.number}: request and response`, p.attempts > 1 ? ` (${p.attempts} requests)` : ""),
      h("h5", {}, "Request (secrets redacted)"), h("pre", { class: "code", tabindex: "0" }, exchangeText(p.request)),
      h("h5", {}, `Response: HTTP ${p.response?.status_code ?? "–"}`),
      h("pre", { class: "code", tabindex: "0" },
        Object.entries(p.response?.headers || {}).map(([k, v]) => `${k}: ${v}\n`).join(""),
        p.response?.body ? `\n${p.response.body}` : ""))),
    error ? h("p", { class: "error-text" }, `Stopped: ${error}`) : null);
}

const KIND = {
  added: ["+ only in the records", "ok"],
  missing: ["− not in the records", "neutral"],
  type: ["≠ type differs", "bad"],
  required: ["≠ required differs", "neutral"],
};

function typeText(type) {
  if (type === null || type === undefined) return "–";
  return Array.isArray(type) ? type.join(" | ") : String(type);
}

/**
 * The schema inferred from *records*, its difference with the record part of the operation's
 * declared response schema, and "Adopt" (the inferred record schema goes into the operation's
 * response schema, saved like other edits).
 */
export function inferredSchemaView(records, result, op, state, ctx) {
  const bodyIsList = Array.isArray(result.body);
  const inferred = inferSchema(records);
  const declared = op.response_schema ? recordSchemaOf(op.response_schema, op.record_selector, state.doc, bodyIsList) : null;
  const diff = declared ? schemaDiff(declared, inferred, state.doc) : [];
  const status = h("p", { class: "help", "aria-live": "polite" });
  const adopt = async () => {
    op.response_schema = adoptRecordSchema(op.response_schema, op.record_selector, inferred, state.doc, bodyIsList);
    ctx.markDirty();
    status.textContent = "Saving the adopted schema…";
    if (await ctx.save()) announce(`The inferred schema is now ${op.operation || op.name}'s response schema (saved).`);
    else status.textContent = "Adopted into the operation, not saved yet: see the problems above.";
  };
  const summary = !op.response_schema ? "No response schema is declared: adopt the inferred one to check every test against it."
    : !declared ? "The declared response schema does not describe the records where the record selector points."
    : diff.length ? `${diff.length} difference(s) between the declared record schema and the records.`
    : "The records match the declared schema.";
  return h("section", { class: "schema-read", "aria-label": "Inferred schema" },
    h("h4", {}, "Schema inferred from the records"),
    h("p", {}, summary),
    diff.length ? h("table", { class: "grid schema-diff" },
      h("caption", { class: "sr-only" }, "Declared schema against inferred schema"),
      h("thead", {}, h("tr", {}, ["Field", "Difference", "Declared", "Inferred"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, diff.map((row) => h("tr", { class: `diff-${row.kind}` },
        h("td", {}, h("code", {}, row.path)), h("td", {}, badge(...KIND[row.kind])),
        h("td", {}, typeText(row.declared)), h("td", {}, typeText(row.inferred)))))) : null,
    h("details", {}, h("summary", {}, "Inferred record schema (JSON Schema)"),
      h("pre", { class: "code", tabindex: "0" }, JSON.stringify(inferred, null, 2))),
    records.length && state.canEdit && (diff.length || !declared)
      ? h("p", {}, h("button", { type: "button", class: "primary", onclick: adopt }, "Adopt the inferred schema"), status)
      : null);
}

/** Everything the Test tab shows of a read beside the answer itself. */
export function readView(result, op, state, ctx) {
  if (result.status_code >= 400) return null;
  const records = recordsOf(result);
  if (!records.length && !result.records && !result.pages) return null;
  return h("div", { class: "test-read" },
    recordsTable(records),
    result.pages ? pagesRead(result.pages, result.error) : result.error ? h("p", { class: "error-text" }, `Stopped: ${result.error}`) : null,
    records.length ? inferredSchemaView(records, result, op, state, ctx) : null);
}

function exchangesView(exchanges) {
  return h("section", { class: "pages-read", "aria-label": "Requests sent" },
    h("h4", {}, `Requests sent: ${exchanges.length}`),
    exchanges.map((x, i) => h("details", { class: "page-exchange" },
      h("summary", {}, `Request ${i + 1}: ${x.request.method} → HTTP ${x.status_code ?? "–"}`),
      h("h5", {}, "Request (secrets redacted)"), h("pre", { class: "code", tabindex: "0" }, exchangeText(x.request)),
      h("h5", {}, `Response: HTTP ${x.status_code ?? "–"}`),
      h("pre", { class: "code", tabindex: "0" }, Object.entries(x.headers || {}).map(([k, v]) => `${k}: ${v}\n`).join(""),
        x.body ? `\n${x.body}` : ""))));
}

/**
 * A collection's fields schema with the inferred one adopted: each property takes the inferred
 * type (and nested shape) and keeps its own keywords (title, readOnly, format...); what the
 * collection requires (for create) stays as declared.
 */
export function mergeFieldsSchema(declared, inferred) {
  const merged = { ...(declared || {}), type: "object", properties: {} };
  const old = declared?.properties || {};
  for (const [key, schema] of Object.entries(inferred.properties || {})) merged.properties[key] = { ...(old[key] || {}), ...schema };
  for (const [key, schema] of Object.entries(old)) if (!(key in merged.properties)) merged.properties[key] = schema;
  return merged;
}

/** What the Test tab shows of a collection read: records, the requests, the fields' schema. */
export function collectionReadView(read, collection, state, ctx) {
  const ok = !read.error;
  const records = read.records.map((r) => ({ id: r.id, name: r.name, ...(r.fields || {}) }));
  const fields = read.records.map((r) => r.fields || {});
  const inferred = inferSchema(fields);
  delete inferred.required; // present in every record is not "required to create"
  const isRef = typeof collection.fields_schema?.$ref === "string";
  const declared = collection.fields_schema ? resolveRef(collection.fields_schema, state.doc) : null;
  const diff = declared ? schemaDiff({ ...declared, required: undefined }, inferred, state.doc).filter((row) => row.kind !== "required") : [];
  const status = h("p", { class: "help", "aria-live": "polite" });
  const adopt = async () => {
    collection.fields_schema = mergeFieldsSchema(declared, inferred);
    ctx.markDirty();
    status.textContent = "Saving the adopted schema…";
    if (await ctx.save()) announce(`The inferred fields are now the ${collection.key} collection's fields schema (saved).`);
    else status.textContent = "Adopted, not saved yet: see the problems above.";
  };
  return h("div", { class: "test-read" },
    h("section", { class: "result", "aria-label": "Result" },
      h("p", { class: "result-head" }, badge(ok ? `✓ ${read.records.length} record(s)` : "✗ failed", ok ? "ok" : "bad"),
        h("span", { class: "muted" }, ` · first page of ${collection.key} · ran ${read.version}`),
        read.next_cursor ? h("span", { class: "muted" }, " · more pages follow") : null),
      ok ? null : h("p", { class: "error-text" }, `✗ ${read.error}`),
      (read.schema_mismatches || []).length ? h("div", { class: "warning-text" },
        h("p", {}, `⚠ ${read.schema_mismatches.length} field(s) do not fit the fields schema: a published connector's list refuses this page.`),
        h("ul", {}, read.schema_mismatches.slice(0, 10).map((m) => h("li", {}, `${m.path}: ${m.message}`)))) : null),
    ok ? recordsTable(records) : null,
    exchangesView(read.exchanges),
    ok && fields.length ? h("section", { class: "schema-read", "aria-label": "Inferred schema" },
      h("h4", {}, "Fields schema inferred from the records"),
      h("p", {}, !declared ? "The collection declares no fields schema."
        : diff.length ? `${diff.length} difference(s) between the fields schema and the records.` : "The records match the fields schema."),
      diff.length ? h("table", { class: "grid schema-diff" },
        h("caption", { class: "sr-only" }, "Declared fields schema against inferred schema"),
        h("thead", {}, h("tr", {}, ["Field", "Difference", "Declared", "Inferred"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, diff.map((row) => h("tr", { class: `diff-${row.kind}` },
          h("td", {}, h("code", {}, row.path)), h("td", {}, badge(...KIND[row.kind])),
          h("td", {}, typeText(row.declared)), h("td", {}, typeText(row.inferred)))))) : null,
      h("details", {}, h("summary", {}, "Inferred fields schema (JSON Schema)"),
        h("pre", { class: "code", tabindex: "0" }, JSON.stringify(inferred, null, 2))),
      isRef ? h("p", { class: "help" }, `The fields schema is the shared schema ${collection.fields_schema.$ref}: change it in the YAML view, where every use of it is seen.`)
        : state.canEdit && (diff.length || !declared) ? h("p", {}, h("button", { type: "button", class: "primary", onclick: adopt }, "Adopt the inferred fields schema"), status) : null)
      : null);
}
