// Connections: the list with health badges, the connect form, testing and running operations.
import { ApiError, api, announce, showError } from "../api.js";
import { badge, emptyState, field, h, mount } from "../dom.js";
import { announceResult, fieldsForm, parametersForm, readFields, resultView } from "../forms.js";
import { copyable } from "../copy.js";
import { go } from "../router.js";
import { eventsSection } from "./events.js";
import { callsSection, healthHistorySection } from "./calls.js";

const HEALTH = { healthy: "ok", degraded: "warn", auth_error: "bad", unreachable: "bad", unknown: "neutral" };
const HEALTH_TEXT = { healthy: "✓ healthy", degraded: "! degraded", auth_error: "✗ auth error", unreachable: "✗ unreachable", unknown: "? unknown" };

const TOKEN_FIELDS = ["access_token", "refresh_token"];

/** True when people authorize the connector at the provider (OAuth2 authorization code). */
function authorizes(auth) {
  return auth.auth_type === "oauth2" && auth.grant_type === "authorization_code" && !!auth.authorization_url;
}

/** Send the browser to the provider to authorize an existing connection again. */
async function reauthorize(connection) {
  try {
    const started = await api("POST", "/oauth/authorize", { connection_id: connection.id, return_url: "/ui/" });
    window.location.assign(started.authorize_url);
  } catch (error) { showError(error); }
}

export function healthBadge(health) {
  return badge(HEALTH_TEXT[health] || health, HEALTH[health] || "neutral");
}

function isAdmin(me) { return me.user.role === "enterprise_admin"; }

export async function showConnections(view, params, query, me) {
  const [page, connectors] = await Promise.all([api("GET", "/connections?limit=200"), api("GET", "/connectors?limit=200")]);
  const names = Object.fromEntries(connectors.items.map((c) => [c.id, c.name]));
  mount(view, h("div", { class: "page-head" }, h("h1", {}, "Connections"),
    isAdmin(me) ? h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: () => go("/connections/new") }, "New connection")) : null),
  page.items.length ? h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, ["Name", "Connector", "Health", "Created"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, page.items.map((c) => h("tr", {}, h("td", {}, h("a", { href: `#/connections/${c.id}` }, c.name)),
      h("td", {}, names[c.connector_id] || c.connector_id), h("td", {}, healthBadge(c.health)),
      h("td", {}, new Date(c.created_at).toLocaleString())))))
    : emptyState("No connections yet.", isAdmin(me) ? "Connect your enterprise's account to a published connector with New connection." : null));
}

export async function showNewConnection(view, params, query, me) {
  const page = await api("GET", "/connectors?status=published&limit=200");
  if (!page.items.length) { mount(view, h("h1", {}, "New connection"), emptyState("No published connector to connect to yet.")); return; }
  const select = h("select", { id: "conn-connector" }, page.items.map((c) => h("option", { value: c.id, selected: c.id === query.get("connector") }, `${c.name} (v${c.latest_version})`)));
  const name = h("input", { id: "conn-name", type: "text" });
  const credsBox = h("fieldset", {}, h("legend", {}, "Credentials"));
  let connector;
  let oauth = false;
  let latestChoice = 0;
  const submitButton = h("button", { type: "submit", class: "primary" }, "Connect");
  const oauthNote = h("div", {});
  const showForm = async () => {
    // Answers can arrive out of order when the choice changes quickly: only the newest counts,
    // so a late answer for an earlier connector never replaces (and empties) the form.
    const choice = ++latestChoice;
    const loaded = await api("GET", `/connectors/${select.value}`);
    if (choice !== latestChoice) return;
    // Choosing the connector already shown keeps what was typed into its form.
    if (connector && loaded.id === connector.id) return;
    connector = loaded;
    if (!name.value || name.dataset.auto) { name.value = `${connector.name}`; name.dataset.auto = "1"; }
    const auth = connector.latest?.document?.auth || {};
    const schema = { ...(auth.credential_schema || {}) };
    oauth = authorizes(auth);
    // The authorization fills in the tokens: a person never types them.
    if (oauth) for (const name of TOKEN_FIELDS) delete schema[name];
    mount(credsBox, h("legend", {}, "Credentials"), fieldsForm(schema, { prefix: "conn" }));
    credsBox.hidden = oauth && !Object.keys(schema).length;
    submitButton.textContent = oauth ? `Authorize with ${connector.name}` : "Connect";
    mount(oauthNote, oauth ? h("p", { class: "help" }, `You will sign in at ${connector.name} and allow access; ` +
      "your browser then comes back here with the new connection.") : "");
  };
  name.addEventListener("input", () => { delete name.dataset.auto; });
  select.addEventListener("change", showForm);
  const submit = async (event) => {
    event.preventDefault();
    try {
      if (oauth) {
        const started = await api("POST", "/oauth/authorize", { connector_id: select.value, name: name.value,
          credentials: readFields(credsBox), return_url: "/ui/" });
        for (const input of credsBox.querySelectorAll("input")) input.value = "";
        window.location.assign(started.authorize_url);
        return;
      }
      const created = await api("POST", "/connections", { connector_id: select.value, name: name.value, credentials: readFields(credsBox) });
      for (const input of credsBox.querySelectorAll("input")) input.value = "";
      announce(`Created the connection ${created.name}.`);
      go(`/connections/${created.id}`);
    } catch (error) {
      for (const issue of error.issues || []) {
        const key = issue.loc?.[2];
        const input = key && credsBox.querySelector(`[data-name="${CSS.escape(String(key))}"]`);
        if (input) { input.setAttribute("aria-invalid", "true"); input.closest(".field").querySelector(".error").textContent = `⚠ ${issue.message}`; }
      }
      showError(error);
    }
  };
  mount(view, h("a", { href: "#/connections" }, "← Connections"), h("h1", {}, "New connection"),
    h("form", { class: "card connect-form", onsubmit: submit }, field("Connector", select), field("Connection name", name, { required: true }),
      credsBox, oauthNote, submitButton));
  await showForm();
}

export async function showConnection(view, params, query, me) {
  const connection = await api("GET", `/connections/${params.id}`);
  const version = await api("GET", `/connectors/${connection.connector.id}/versions/${connection.version}`);
  const ops = version.document.operations || [];
  const health = h("span", { id: "health" }, healthBadge(connection.health));
  const testOut = h("div", { "aria-live": "polite" });
  const test = async () => {
    try {
      const result = await api("POST", `/connections/${params.id}/test`);
      mount(health, healthBadge(result.health));
      mount(testOut, h("p", {}, badge(result.status, result.status === "ok" ? "ok" : "bad"),
        ` ${result.operation || ""} ${result.upstream_status ? `HTTP ${result.upstream_status}` : ""} ${result.detail}`));
      announce(`Connection test: ${result.status}`);
    } catch (error) { showError(error); }
  };
  const select = h("select", { id: "run-op" }, ops.map((op, i) => h("option", { value: String(i) }, `${op.method || "GET"} ${op.operation || op.name}`)));
  const paramsBox = h("div", {});
  const showParams = () => mount(paramsBox, ops.length ? parametersForm(ops[Number(select.value)].parameters, "runparam") : "");
  select.addEventListener("change", showParams);
  showParams();
  const allPages = h("input", { type: "checkbox", id: "run-all-pages" });
  const allPagesBox = h("div", { class: "field inline" }, allPages,
    h("label", { for: "run-all-pages" }, "Read every page (streams every record)"));
  const showAllPages = () => {
    const paginated = !!ops[Number(select.value)]?.pagination;
    allPagesBox.hidden = !paginated;
    if (!paginated) allPages.checked = false;
  };
  select.addEventListener("change", showAllPages);
  showAllPages();
  const out = h("div", { "aria-live": "polite" });
  const run = async (event) => {
    event.preventDefault();
    const op = ops[Number(select.value)];
    const name = op.operation || op.name;
    mount(out, h("p", {}, "Running…"));
    try {
      if (allPages.checked) {
        const { records, error } = await readAllPages(params.id, name, readFields(paramsBox));
        mount(out, recordsView(records, error));
        announce(`${name}: ${records.length} record(s)${error ? `, then an error: ${error}` : ""}`, error ? "error" : "info");
        return;
      }
      const result = await api("POST", `/connections/${params.id}/operations/${encodeURIComponent(name)}`, { params: readFields(paramsBox) });
      mount(out, resultView(result, { hasSchema: !!op.response_schema }));
      announceResult(name, result);
    } catch (error) { mount(out, h("p", { class: "error-text" }, `✗ ${error.message}`)); showError(error); }
  };
  mount(view, h("a", { href: "#/connections" }, "← Connections"),
    h("div", { class: "page-head" }, h("h1", {}, connection.name, " ", health)),
    copyable("connection-id", "Connection id", connection.id, "Copy id"),
    h("p", { class: "muted" }, `${connection.connector.name} v${connection.version} · credentials: `,
      Object.keys(connection.credentials).join(", ") || "none", " (values never shown)"),
    authorizes(version.document.auth || {}) ? h("section", { class: "card", id: "oauth-grant" }, h("h2", {}, "Authorization"),
      connection.oauth?.needs_reauthorization
        ? h("p", { class: "error-text" }, "✗ The provider no longer accepts this connection's authorization: authorize it again.")
        : h("p", {}, connection.oauth ? `Authorized ${new Date(connection.oauth.authorized_at).toLocaleString()}` +
          (connection.oauth.scope ? ` · scope: ${connection.oauth.scope}` : "") : "Not authorized yet."),
      isAdmin(me) ? h("button", { type: "button", onclick: () => reauthorize(connection) }, "Authorize again") : null) : null,
    h("section", { class: "card" }, h("h2", {}, "Health"), h("button", { type: "button", onclick: test }, "Test connection"), testOut),
    (version.document.collections || []).length ? h("section", { class: "card" }, h("h2", {}, "Records"),
      h("ul", {}, version.document.collections.map((c) => h("li", {},
        h("a", { href: `#/connections/${params.id}/records/${encodeURIComponent(c.key)}` }, c.name || c.key))))) : null,
    h("section", { class: "card" }, h("h2", {}, "Run an operation"),
      ops.length ? h("form", { onsubmit: run }, field("Operation", select), paramsBox, allPagesBox,
        h("button", { type: "submit", class: "primary" }, "Run")) : h("p", {}, "This version has no operations."),
      out),
    eventsSection(connection, version, me),
    callsSection(params.id),
    healthHistorySection(params.id),
    isAdmin(me) ? editSection(connection, version, () => showConnection(view, params, query, me)) : null,
    isAdmin(me) ? upgradeSection(connection, () => showConnection(view, params, query, me)) : null);
}

/** Run an operation with ?all_pages=true: the answer is JSON Lines, one record a line. */
async function readAllPages(id, operation, values) {
  const response = await fetch(`/connections/${id}/operations/${encodeURIComponent(operation)}?all_pages=true`, {
    method: "POST", credentials: "same-origin",
    headers: { "X-Connectory-UI": "1", "Content-Type": "application/json", Accept: "application/x-ndjson" },
    body: JSON.stringify({ params: values }) });
  if (!response.ok) {
    // Errors before the stream starts are ordinary JSON error answers.
    let body;
    try { body = await response.json(); } catch { body = { detail: `request failed (${response.status})` }; }
    throw new ApiError(response.status, body);
  }
  const records = [];
  let error = null;
  for (const line of (await response.text()).split("\n")) {
    if (!line.trim()) continue;
    let item;
    try { item = JSON.parse(line); } catch { error = `unreadable line: ${line.slice(0, 200)}`; break; }
    if (item && typeof item === "object" && !Array.isArray(item) && "_connectory_error" in item) {
      const e = item._connectory_error;
      error = typeof e === "string" ? e : e?.detail || e?.message || JSON.stringify(e);
      break;
    }
    records.push(item);
  }
  return { records, error };
}

const FIRST_RECORDS = 5;

function recordsView(records, error) {
  return h("section", { class: "result", "aria-label": "Records" },
    h("p", { class: "result-head" }, badge(`${error ? "✗" : "✓"} ${records.length} record(s)`, error ? "bad" : "ok"),
      records.length > FIRST_RECORDS ? h("span", { class: "muted" }, ` · the first ${FIRST_RECORDS} shown`) : null),
    records.length ? h("pre", { class: "code body records", tabindex: "0" },
      records.slice(0, FIRST_RECORDS).map((r) => JSON.stringify(r)).join("\n")) : null,
    error ? h("p", { class: "error-text", role: "alert" }, `✗ Stopped after ${records.length} record(s): ${error}`) : null);
}

const PLACEHOLDER = "********";

/** Rename the connection and replace its credentials; a sensitive field left as "********" keeps its secret. */
function editSection(connection, version, reload) {
  const name = h("input", { id: "edit-conn-name", type: "text", value: connection.name });
  const schema = version.document.auth?.credential_schema || {};
  const creds = fieldsForm(schema, { prefix: "edit" });
  for (const input of creds.querySelectorAll("[data-name]")) {
    const value = connection.credentials[input.dataset.name];
    if (value === undefined || value === null) continue;
    if (input.type === "checkbox") input.checked = value === true;
    else input.value = String(value);
    if (value === PLACEHOLDER) {
      const help = input.closest(".field")?.querySelector(".help");
      if (help) help.textContent = `${help.textContent ? `${help.textContent} ` : ""}Stored secret: leave "${PLACEHOLDER}" to keep it, or type a new value.`;
    }
  }
  const submit = async (event) => {
    event.preventDefault();
    try {
      const saved = await api("PUT", `/connections/${connection.id}`, { name: name.value, credentials: readFields(creds) });
      announce(`Saved the connection ${saved.name}.`);
      await reload();
    } catch (error) {
      for (const issue of error.issues || []) {
        const key = issue.loc?.[2];
        const input = key && creds.querySelector(`[data-name="${CSS.escape(String(key))}"]`);
        if (input) { input.setAttribute("aria-invalid", "true"); input.closest(".field").querySelector(".error").textContent = `⚠ ${issue.message}`; }
      }
      showError(error);
    }
  };
  return h("section", { class: "card", "aria-labelledby": "edit-conn-title" }, h("h2", { id: "edit-conn-title" }, "Edit the connection"),
    h("form", { class: "connect-form", onsubmit: submit }, field("Connection name", name, { required: true }),
      h("fieldset", {}, h("legend", {}, "Credentials (replaced whole)"), creds),
      h("button", { type: "submit", class: "primary" }, "Save connection")));
}

/** Check the move to the connector's latest version (a dry run), then apply it on confirmation. */
function upgradeSection(connection, reload) {
  const out = h("div", { "aria-live": "polite" });
  const check = async () => {
    mount(out, h("p", {}, "Checking…"));
    try {
      const plan = await api("POST", `/connections/${connection.id}/upgrade`, { dry_run: true });
      if (plan.from_version === plan.to_version) {
        mount(out, h("p", {}, badge("✓ up to date", "ok"), ` v${plan.from_version} is the latest version.`));
        announce("The connection is on the latest version.");
        return;
      }
      const apply = async () => {
        const risky = plan.breaking_changes.length || plan.credential_issues.length;
        if (!confirm(`Move ${connection.name} from v${plan.from_version} to v${plan.to_version}?${risky ? " It has breaking changes or credential issues." : ""}`)) return;
        try {
          const done = await api("POST", `/connections/${connection.id}/upgrade`, { dry_run: false, to_version: plan.to_version });
          announce(`Upgraded ${connection.name} to v${done.to_version}.`);
          await reload();
        } catch (error) { showError(error); }
      };
      const list = (title, items, kind) => h("section", { "aria-label": title }, h("h3", {}, `${title} (${items.length})`),
        items.length ? h("ul", {}, items.map((t) => h("li", {}, badge(kind === "bad" ? "✗" : "!", kind), " ", t))) : h("p", { class: "muted" }, "None."));
      mount(out, h("p", { class: "upgrade-plan" }, `v${plan.from_version} → v${plan.to_version} (${plan.bump})`),
        list("Breaking changes", plan.breaking_changes, "bad"), list("Credential issues", plan.credential_issues, "warn"),
        h("button", { type: "button", class: "primary", onclick: apply }, `Upgrade to v${plan.to_version}`));
      announce(`Upgrade to v${plan.to_version}: ${plan.breaking_changes.length} breaking change(s), ${plan.credential_issues.length} credential issue(s).`);
    } catch (error) { mount(out, h("p", { class: "error-text" }, `✗ ${error.message}`)); showError(error); }
  };
  return h("section", { class: "card", "aria-labelledby": "upgrade-title" }, h("h2", { id: "upgrade-title" }, "Upgrade"),
    h("p", { class: "help" }, `On v${connection.version}. Checking shows what the latest version changes; nothing moves until you confirm.`),
    h("button", { type: "button", onclick: check }, "Check for upgrade"), out);
}
