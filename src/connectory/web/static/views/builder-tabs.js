// The Overview, Auth & Credentials and Resilience tabs.
import { announce, api, clearError } from "../api.js";
import { group, h } from "../dom.js";
import { boundField, retypeDefault, typedDefaultField } from "./bind.js";

// The Schemas tab lives in its own module; the builder registers it with the tabs from here.
export { renderSchemas, selectSchema } from "./schemas-tab.js";

const TYPES = ["General", "OEM", "DMS", "CRM", "Finance", "Telematics", "Logistics"];

/** "Open Weather Map!" -> "open-weather-map" (the API applies the same rule). */
export function slugify(name) {
  return name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
}

export function renderOverview(panel, state, ctx) {
  const doc = state.doc;
  const published = !!state.connector?.latest_version;
  state.slugTouched ??= !!doc.slug && doc.slug !== slugify(doc.name || "");
  const slug = boundField(ctx, doc, "slug", "Slug", { path: "slug", readonly: published,
    help: published ? "Locked: the slug cannot change after the first publish." : "URL-safe id, generated from the name until you edit it.",
    onchange: () => { state.slugTouched = true; } });
  const name = boundField(ctx, doc, "name", "Name", { path: "name", required: true, onchange: (value) => {
    if (!published && !state.slugTouched) {
      doc.slug = slugify(value);
      slug.querySelector("input").value = doc.slug;
    }
    panel.closest("main")?.querySelector("h1")?.firstChild?.replaceWith(document.createTextNode(value || "New connector"));
  } });
  const iconInput = h("input", { type: "file", accept: "image/png,image/svg+xml", onchange: async () => {
    const file = iconInput.files[0];
    if (!file) return;
    if (file.size > 64 * 1024) { announce("Icons are limited to 64 KiB (64x64 PNG or SVG recommended).", "error"); return; }
    doc.icon = await new Promise((resolve) => { const r = new FileReader(); r.onload = () => resolve(r.result); r.readAsDataURL(file); });
    clearError(); // an earlier "too large" is resolved
    ctx.markDirty();
    preview.replaceChildren(h("img", { src: doc.icon, alt: "Connector icon", width: 48, height: 48 }));
  } });
  const preview = h("div", { class: "icon-preview" }, doc.icon?.startsWith("data:image/") || doc.icon?.startsWith("https://")
    ? h("img", { src: doc.icon, alt: "Connector icon", width: 48, height: 48 }) : null);
  panel.append(h("div", { class: "form-grid" },
    name, slug,
    boundField(ctx, doc, "type", "Type", { kind: { options: TYPES, default: "General" }, path: "type" }),
    boundField(ctx, doc, "base_url", "Base URL", { kind: "url", path: "base_url", required: true, placeholder: "https://api.example.com",
      help: "The root of every call (absolute http(s) URL; templates allowed)." }),
    boundField(ctx, doc, "documentation_url", "Documentation URL", { kind: "url", path: "documentation_url" }),
    h("div", { class: "field" }, h("label", { for: "icon-upload" }, "Icon"), Object.assign(iconInput, { id: "icon-upload" }),
      h("div", { class: "help" }, "PNG or SVG, 64x64 recommended."), preview),
    h("div", { class: "wide" }, boundField(ctx, doc, "description", "Description", { kind: "textarea", path: "description" }))));
  doc.parameters ??= {};
  doc.headers ??= {};
  const rerender = () => ctx.renderPanel();
  panel.append(h("h2", {}, "Connector parameters"),
    h("p", { class: "help" }, "Settings of the connector on this server, set by its editors (PUT /connectors/{id}/parameters), not by each " +
      "connection; templates read them as {{ connector_parameters.name }}. A sensitive default is stored encrypted and shows as ********."),
    group("parameters", {}, fieldsTable(doc.parameters, "parameters", ctx, rerender, { nameLabel: "Parameter name", firstColumn: "Parameter",
      addText: "Add connector parameter", emptyText: "No connector parameters.", className: "connector-parameters", newName: "parameter", newLabel: "Parameter" })),
    h("h2", {}, "Headers"),
    h("p", { class: "help" }, "Sent with every request of every operation (an operation's own headers win). Values are templates: " +
      "{{ credentials.x }}, {{ connector_parameters.x }}, {{ config.x }}."),
    group("headers", {}, headersTable(doc.headers, ctx, rerender)));
}

const AUTH_TYPES = ["none", "api_key", "basic", "bearer", "oauth2", "custom"];
const AUTH_FIELDS = {
  api_key: [["location", { options: ["header", "query"], default: "header" }], ["header_name"], ["key_prefix"], ["query_param"]],
  basic: [["username"], ["password"]],
  bearer: [["header_name"], ["token_prefix"]],
  oauth2: [["grant_type", { options: ["client_credentials", "authorization_code"], default: "client_credentials" }], ["token_url"],
    ["authorization_url"], ["scopes"], ["audience"], ["client_authentication", { options: ["basic", "body"], default: "basic" }],
    ["revocation_url"]],
  custom: [["token_path"], ["expires_in_path"], ["header_name"], ["token_prefix"]],
};
const FIELD_TYPES = ["string", "password", "number", "integer", "boolean"];

export function renderAuth(panel, state, ctx) {
  const doc = state.doc;
  doc.auth ??= { auth_type: "none" };
  const auth = doc.auth;
  auth.credential_schema ??= {};
  const rerender = () => ctx.renderPanel();
  // Problems of the auth block with no field here (e.g. auth.api_key, a template) show at its top.
  panel.append(group("auth", { class: "form-grid" },
    boundField(ctx, auth, "auth_type", "Auth type", { kind: { options: AUTH_TYPES, default: "none" }, path: "auth.auth_type", onchange: rerender }),
    (AUTH_FIELDS[auth.auth_type] || []).map(([key, kind]) =>
      boundField(ctx, auth, key, key.replace(/_/g, " "), { kind: kind || "text", path: `auth.${key}`, help: "Empty: the documented default." }))));
  if (auth.auth_type === "custom") panel.append(h("p", { class: "help" }, "The login request of a custom auth is edited in the YAML view."));
  if (auth.auth_type === "oauth2" && auth.grant_type === "authorization_code") panel.append(redirectUriNote());
  panel.append(h("h2", {}, "Credential schema"),
    h("p", { class: "help" }, "Each row is one field of the connect form. Password fields are masked and stored encrypted."),
    group("auth.credential_schema", {}, credentialTable(auth.credential_schema, ctx, rerender)));
}

/** Where providers send people back: register it with the provider's OAuth app. */
function redirectUriNote() {
  const value = h("code", { id: "oauth-redirect-uri" }, "…");
  const note = h("div", { class: "card", id: "oauth-redirect" }, h("h2", {}, "Redirect URI"),
    h("p", { class: "help" }, "Register this redirect URI with the provider's OAuth app. People authorize in their browser; " +
      "PKCE (S256) is on unless pkce: false. Extra authorize parameters (authorize_params) and where the token " +
      "response keeps its fields (token_response) are edited in the YAML view."),
    h("p", {}, value));
  api("GET", "/oauth/redirect-uri", undefined, { quiet: true })
    .then((answer) => { value.textContent = answer.redirect_uri || answer.detail; })
    .catch(() => { value.textContent = "unknown (the server did not say)"; });
  return note;
}

function credentialTable(schema, ctx, rerender) {
  return fieldsTable(schema, "auth.credential_schema", ctx, rerender, { nameLabel: "Field name", firstColumn: "Field name",
    addText: "Add credential field", emptyText: "No credential fields yet.", className: "credential-schema", newName: "field", newLabel: "Field" });
}

/** *base* and one key, as the server writes problem paths: `headers["Accept Language"]`, `parameters.region`. */
export function keyPath(base, key) {
  return /^[A-Za-z_$][A-Za-z0-9_\-$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

/** Rename the key *from* of *object* to *to* in place, keeping the order of its keys. */
function renameKey(object, from, to) {
  const entries = Object.entries(object).map(([k, v]) => [k === from ? to : k, v]);
  for (const k of Object.keys(object)) delete object[k];
  Object.assign(object, Object.fromEntries(entries));
}

/**
 * An edit table of input fields (name, label, type, required, sensitive, help, default): the
 * credential schema, and the connector parameters (the same model on the server).
 */
function fieldsTable(schema, base, ctx, rerender, { nameLabel, firstColumn, addText, emptyText, className, newName, newLabel }) {
  const rows = Object.entries(schema).map(([name, spec], index) => {
    const at = keyPath(base, name);
    const cell = (key, label, opts) => h("td", {}, boundField(ctx, spec, key, `${label} of ${name}`, { ...opts, path: `${at}.${key}` }));
    const nameInput = h("input", { value: name, "aria-label": `${nameLabel} ${index + 1}`, "data-path": at,
      onchange: () => {
        const next = nameInput.value.trim();
        if (!next || next === name || next in schema) { nameInput.value = name; return; }
        renameKey(schema, name, next);
        ctx.markDirty(); rerender();
      } });
    const defaultLabel = `Default of ${name}`;
    const retype = () => { retypeDefault(ctx, spec, defaultLabel); rerender(); };
    return h("tr", {}, h("td", {}, nameInput), cell("label", "Label"),
      cell("type", "Type", { kind: { options: FIELD_TYPES, default: "string" }, onchange: retype }),
      cell("required", "Required", { kind: "checkbox" }), cell("sensitive", "Sensitive", { kind: "checkbox" }),
      cell("help", "Help"), h("td", {}, typedDefaultField(ctx, spec, defaultLabel, `${at}.default`)),
      h("td", {}, h("button", { type: "button", class: "danger edit", onclick: () => { delete schema[name]; ctx.markDirty(); rerender(); } }, "Remove", h("span", { class: "sr-only" }, ` ${name}`))));
  });
  const add = () => {
    let n = 1;
    while (`${newName}_${n}` in schema) n += 1;
    schema[`${newName}_${n}`] = { label: `${newLabel} ${n}`, type: "string", required: true };
    ctx.markDirty(); rerender();
  };
  return h("div", {}, h("table", { class: `grid edit-table ${className}` },
    h("thead", {}, h("tr", {}, [firstColumn, "Label", "Type", "Required", "Sensitive", "Help text", "Default", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 8, class: "empty-cell" }, emptyText)))),
    h("button", { type: "button", class: "edit", onclick: add }, addText));
}

// A header name is an HTTP token (RFC 9110): no spaces, colons or control characters.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The connector-level headers: a name and a value (a template) per row, sent with every request. */
function headersTable(headers, ctx, rerender) {
  const rows = Object.entries(headers).map(([name], index) => {
    const at = keyPath("headers", name);
    // The problems of headers.<name> are about its value: the path is the value box's alone.
    const nameInput = h("input", { value: name, "aria-label": `Header name ${index + 1}`, spellcheck: "false",
      onchange: () => {
        const next = nameInput.value.trim();
        // Header names are case-insensitive on the wire: two that differ in case only are one.
        const taken = Object.keys(headers).some((k) => k !== name && k.toLowerCase() === next.toLowerCase());
        const invalid = next && !HEADER_NAME.test(next);
        if (!next || next === name || taken || invalid) {
          if (taken) announce(`A header ${next} is there already.`, "error");
          if (invalid) announce(`"${next}" is not a header name: letters, digits and - (no spaces or colons), e.g. X-Tenant.`, "error");
          nameInput.value = name; return;
        }
        renameKey(headers, name, next);
        ctx.markDirty(); rerender();
      } });
    return h("tr", {}, h("td", {}, nameInput),
      h("td", {}, boundField(ctx, headers, name, `Value of ${name}`, { path: at, required: true, placeholder: "e.g. {{ connector_parameters.region }}" })),
      h("td", {}, h("button", { type: "button", class: "danger edit", onclick: () => { delete headers[name]; ctx.markDirty(); rerender(); } }, "Remove", h("span", { class: "sr-only" }, ` header ${name}`))));
  });
  const add = () => {
    let n = 1;
    while (Object.keys(headers).some((k) => k.toLowerCase() === `x-header-${n}`)) n += 1;
    headers[`X-Header-${n}`] = "";
    ctx.markDirty(); rerender();
  };
  return h("div", {}, h("table", { class: "grid edit-table connector-headers" },
    h("thead", {}, h("tr", {}, ["Header", "Value (template)", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 3, class: "empty-cell" }, "No headers: requests carry only those of auth and operations.")))),
    h("button", { type: "button", class: "edit", onclick: add }, "Add header"));
}

const RESILIENCE = [
  ["timeout", "Timeout (seconds)", 30, "number"], ["max_retries", "Max retries", 3, "number"],
  ["retry_delay", "Retry delay (seconds)", 1, "number"],
  ["retry_backoff", "Retry backoff", "exponential", { options: ["none", "linear", "exponential"], default: "exponential" }],
  ["rate_limit", "Rate limit (per minute)", 60, "number"], ["circuit_breaker_threshold", "Circuit breaker threshold", 5, "number"],
  ["circuit_breaker_recovery", "Circuit breaker recovery (seconds)", 30, "number"],
  ["respect_retry_after", "Honour Retry-After", true, "checkbox"], ["retry_jitter", "Jitter", true, "checkbox"],
];

export function renderResilience(panel, state, ctx) {
  state.doc.resilience ??= {};
  const res = state.doc.resilience;
  panel.append(h("p", { class: "help" }, "Empty fields use the default shown. An operation may override any of these in the YAML view."),
    h("div", { class: "form-grid" }, RESILIENCE.map(([key, label, def, kind]) => {
      return boundField(ctx, res, key, label, { kind, def, path: `resilience.${key}`, placeholder: String(def), help: `Default: ${def}` });
    })));
}
