// Administration: enterprises (platform admins), users and their roles (platform admins: all;
// enterprise admins: their enterprise's), and API tokens (yours, or a managed user's): a new
// token's secret is shown once, then only its prefix. The API decides every right; the pages
// offer only what the role may do and show the API's refusal when it says no.
import { api, announce, showError } from "../api.js";
import { copyText } from "../copy.js";
import { badge, emptyState, field, h, mount, uid } from "../dom.js";
import { PAGE_SIZE, pager } from "../pager.js";
import { go } from "../router.js";

const ROLE_TEXT = { platform_admin: "platform admin", enterprise_admin: "enterprise admin", viewer: "viewer" };

function when(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }
function isPlatform(me) { return me.user.role === "platform_admin"; }
function isAdmin(me) { return me.user.role !== "viewer"; }

function emptyRow(columns, text) {
  return h("tr", {}, h("td", { colspan: String(columns), class: "empty-cell" }, text));
}

function table(caption, headings, rows) {
  return h("table", { class: "grid" }, h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows));
}

// -- enterprises -------------------------------------------------------------------------------

export async function showEnterprises(view, params, query, me) {
  if (!isPlatform(me)) {
    mount(view, h("h1", {}, "Enterprises"), emptyState("Only platform admins manage enterprises."));
    return;
  }
  const list = h("div", { "aria-live": "polite" });
  const name = h("input", { id: "enterprise-name", type: "text", maxlength: "200" });
  const create = async (event) => {
    event.preventDefault();
    try {
      const created = await api("POST", "/enterprises", { name: name.value.trim() });
      announce(`Created the enterprise ${created.name}.`);
      name.value = "";
      await load();
    } catch (error) { showError(error); }
  };
  let offset = 0;
  const pages = pager("Pages of enterprises", (to) => { offset = to; load(); }, "enterprise");
  const load = async () => {
    const page = await api("GET", `/enterprises?limit=${PAGE_SIZE}&offset=${offset}`);
    if (!page.items.length && offset > 0) { offset = Math.max(0, offset - PAGE_SIZE); await load(); return; } // the last one went
    pages.show(page);
    mount(list, table("Enterprises", ["Name", "Created", "Actions"], page.items.length ? page.items.map((e) => enterpriseRow(e, load)) :
      emptyRow(3, "No enterprises yet: create the first one above.")));
  };
  mount(view, h("div", { class: "page-head" }, h("h1", {}, "Enterprises")),
    h("form", { class: "card inline-form admin-create", onsubmit: create, "aria-label": "Create an enterprise" },
      field("New enterprise name", name, { required: true }), h("button", { type: "submit", class: "primary" }, "Create enterprise")),
    list, pages.element);
  await load();
}

function enterpriseRow(enterprise, reload) {
  const rename = async () => {
    const next = prompt(`New name for ${enterprise.name}`, enterprise.name);
    if (!next || next.trim() === enterprise.name) return;
    try {
      await api("PATCH", `/enterprises/${enterprise.id}`, { name: next.trim() });
      announce(`Renamed ${enterprise.name} to ${next.trim()}.`);
      await reload();
    } catch (error) { showError(error); }
  };
  const remove = async () => {
    if (!confirm(`Delete the enterprise ${enterprise.name}? It must have no users, connectors or connections left.`)) return;
    try {
      await api("DELETE", `/enterprises/${enterprise.id}`);
      announce(`Deleted the enterprise ${enterprise.name}.`);
      await reload();
    } catch (error) { showError(error); } // 409 says what is still there
  };
  const named = (text) => [text, h("span", { class: "sr-only" }, ` ${enterprise.name}`)];
  return h("tr", {}, h("td", {}, enterprise.name), h("td", {}, when(enterprise.created_at)),
    h("td", { class: "row-actions" },
      h("a", { class: "button", href: `#/users?enterprise=${enterprise.id}` }, named("Users")),
      h("button", { type: "button", onclick: rename }, named("Rename")),
      h("button", { type: "button", class: "danger", onclick: remove }, named("Delete"))));
}

// -- users -------------------------------------------------------------------------------------

/** Every enterprise (for names and the enterprise choice), fifty a page as the API gives them. */
async function allEnterprises() {
  const all = [];
  for (let offset = 0, total = 1; offset < total && offset < 5000; offset += 50) {
    const page = await api("GET", `/enterprises?limit=50&offset=${offset}`);
    all.push(...page.items);
    total = page.total;
  }
  return all;
}

export async function showUsers(view, params, query, me) {
  if (!isAdmin(me)) return go(`/users/${me.user.id}/tokens`);
  const enterprises = isPlatform(me) ? await allEnterprises() : [me.enterprise];
  const names = Object.fromEntries(enterprises.map((e) => [e.id, e.name]));
  const only = query.get("enterprise") || "";
  const list = h("div", { "aria-live": "polite" });
  let offset = 0;
  const pages = pager("Pages of users", (to) => { offset = to; load(); }, "user");
  const load = async () => {
    const qs = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    if (only) qs.set("enterprise_id", only);
    const page = await api("GET", `/users?${qs}`);
    if (!page.items.length && offset > 0) { offset = Math.max(0, offset - PAGE_SIZE); await load(); return; } // the last one went
    pages.show(page);
    const headings = ["Email", "Name", ...(isPlatform(me) ? ["Enterprise"] : []), "Role", "SDK access", "Actions"];
    mount(list, table("Users", headings, page.items.length ? page.items.map((u) => userRow(u, me, names, load)) :
      emptyRow(headings.length, "No users here yet: create one above.")));
  };
  mount(view, h("div", { class: "page-head" }, h("h1", {}, only && names[only] ? `Users of ${names[only]}` : "Users"),
    only ? h("a", { href: "#/users" }, "All users") : null),
  newUserForm(me, enterprises, only, load), list, pages.element);
  await load();
}

function roleSelect(me, id, value) {
  const roles = isPlatform(me) ? ["platform_admin", "enterprise_admin", "viewer"] : ["enterprise_admin", "viewer"];
  return h("select", { id }, roles.map((r) => h("option", { value: r, selected: r === value }, ROLE_TEXT[r])));
}

function newUserForm(me, enterprises, only, reload) {
  const email = h("input", { id: "new-user-email", type: "email", maxlength: "320", autocomplete: "off" });
  const name = h("input", { id: "new-user-name", type: "text", maxlength: "200", autocomplete: "off" });
  const role = roleSelect(me, "new-user-role", "viewer");
  const enterprise = isPlatform(me) ? h("select", { id: "new-user-enterprise" }, h("option", { value: "" }, "– none (platform admins) –"),
    enterprises.map((e) => h("option", { value: e.id, selected: e.id === only }, e.name))) : null;
  const sdk = h("input", { type: "checkbox", id: "new-user-sdk" });
  const submit = async (event) => {
    event.preventDefault();
    const body = { email: email.value.trim(), name: name.value.trim(), role: role.value, sdk_access: sdk.checked };
    if (enterprise && enterprise.value) body.enterprise_id = enterprise.value;
    try {
      const created = await api("POST", "/users", body);
      announce(`Created ${created.email} (${ROLE_TEXT[created.role]}). Give them an API token to sign in: Tokens.`);
      email.value = ""; name.value = "";
      await reload();
    } catch (error) { showError(error); }
  };
  return h("details", { class: "card admin-create", open: false },
    h("summary", {}, "Create a user"),
    h("form", { class: "form-grid", onsubmit: submit },
      field("Email", email, { required: true }), field("Name", name), field("Role", role),
      enterprise ? field("Enterprise", enterprise, { help: "Required for enterprise admins and viewers." }) : null,
      h("div", { class: "field inline" }, sdk, h("label", { for: sdk.id }, "SDK access (enterprise admins: build private connectors)")),
      h("div", { class: "wide" }, h("button", { type: "submit", class: "primary" }, "Create user"))));
}

function userRow(user, me, names, reload) {
  const self = user.id === me.user.id;
  const role = roleSelect(me, uid("role"), user.role);
  role.setAttribute("aria-label", `Role of ${user.email}`);
  role.disabled = self; // nobody changes their own role
  role.addEventListener("change", async () => {
    try {
      await api("PATCH", `/users/${user.id}`, { role: role.value });
      announce(`${user.email} is now ${ROLE_TEXT[role.value]}.`);
    } catch (error) { role.value = user.role; showError(error); }
    await reload();
  });
  const sdk = h("input", { type: "checkbox", checked: user.sdk_access, disabled: self || user.role !== "enterprise_admin",
    "aria-label": `SDK access of ${user.email}` });
  sdk.addEventListener("change", async () => {
    try {
      await api("PATCH", `/users/${user.id}`, { sdk_access: sdk.checked });
      announce(`SDK access ${sdk.checked ? "given to" : "taken from"} ${user.email}.`);
    } catch (error) { sdk.checked = user.sdk_access; showError(error); }
  });
  const remove = async () => {
    if (!confirm(`Delete ${user.email}? Their API tokens stop working at once.`)) return;
    try {
      await api("DELETE", `/users/${user.id}`);
      announce(`Deleted ${user.email}.`);
      await reload();
    } catch (error) { showError(error); }
  };
  const named = (text) => [text, h("span", { class: "sr-only" }, ` of ${user.email}`)];
  return h("tr", {}, h("td", {}, user.email, self ? h("span", { class: "muted" }, " (you)") : null), h("td", {}, user.name || "–"),
    isPlatform(me) ? h("td", {}, user.enterprise_id ? names[user.enterprise_id] || user.enterprise_id : "–") : null,
    h("td", {}, role), h("td", {}, sdk),
    h("td", { class: "row-actions" }, h("a", { class: "button", href: `#/users/${user.id}/tokens` }, named("Tokens")),
      self ? null : h("button", { type: "button", class: "danger", onclick: remove }, "Delete", h("span", { class: "sr-only" }, ` ${user.email}`))));
}

// -- API tokens --------------------------------------------------------------------------------

export async function showTokens(view, params, query, me) {
  const userId = params.id || me.user.id;
  const user = userId === me.user.id ? me.user : await api("GET", `/users/${userId}`);
  const mine = userId === me.user.id;
  const list = h("div", { "aria-live": "polite" });
  const secretBox = h("div", {});
  const showRevoked = h("input", { type: "checkbox", id: "tokens-revoked" });
  let offset = 0;
  const pages = pager("Pages of tokens", (to) => { offset = to; load(); }, "token");
  const load = async () => {
    const page = await api("GET", `/tokens?user_id=${userId}&limit=${PAGE_SIZE}&offset=${offset}&include_revoked=${showRevoked.checked}`);
    if (!page.items.length && offset > 0) { offset = Math.max(0, offset - PAGE_SIZE); await load(); return; } // the last one went
    pages.show(page);
    mount(list, table("API tokens", ["Name", "Prefix", "Created", "Last used", "Expires", "Status", "Actions"],
      page.items.length ? page.items.map((t) => tokenRow(t, load)) : emptyRow(7, "No tokens: create one above.")));
  };
  showRevoked.addEventListener("change", () => { offset = 0; load(); });
  const name = h("input", { id: "token-name", type: "text", maxlength: "200", placeholder: "ci, laptop, …" });
  const days = h("input", { id: "token-days", type: "number", min: "1", max: "3650", inputmode: "numeric" });
  const create = async (event) => {
    event.preventDefault();
    const body = { name: name.value.trim() };
    if (days.value) body.expires_in_days = Number(days.value);
    try {
      const created = await api("POST", `/users/${userId}/tokens`, body);
      name.value = ""; days.value = "";
      mount(secretBox, secretCard(created, () => mount(secretBox)));
      secretBox.querySelector("h2").focus();
      await load();
    } catch (error) { showError(error); }
  };
  mount(view,
    isAdmin(me) && !mine ? h("a", { href: "#/users" }, "← Users") : null,
    h("div", { class: "page-head" }, h("h1", {}, mine ? "Your API tokens" : `API tokens of ${user.email}`)),
    h("p", { class: "help" }, "A token signs in to this UI and authorizes the REST API, the CLI and the SDK as ",
      mine ? "you" : user.email, ` (${ROLE_TEXT[user.role]}). Its secret is shown once, when it is created.`),
    secretBox,
    h("form", { class: "card inline-form admin-create", onsubmit: create, "aria-label": "Create an API token" },
      field("Token name", name), field("Expires after (days)", days, { help: "Empty: never expires." }),
      h("button", { type: "submit", class: "primary" }, "Create token")),
    h("div", { class: "field inline" }, showRevoked, h("label", { for: showRevoked.id }, "Show revoked tokens")),
    list, pages.element);
  await load();
}

/** The new token's secret, once: with a copy button, and gone when dismissed or on leaving. */
function secretCard(token, dismiss) {
  const secret = h("input", { id: "token-secret", type: "text", readOnly: true, value: token.secret, class: "secret",
    "aria-describedby": "token-secret-help" });
  const copy = () => copyText(token.secret, "Token", secret);
  return h("section", { class: "card secret-card", role: "region", "aria-labelledby": "token-secret-title" },
    h("h2", { id: "token-secret-title", tabindex: "-1" }, `Token "${token.name || token.prefix}" created`),
    field("Secret", secret, { help: "Copy it now: it is not shown again. Send it as Authorization: Bearer <secret>." }),
    h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: copy }, "Copy token"),
      h("button", { type: "button", onclick: dismiss }, "Done, hide it")));
}

function tokenRow(token, reload) {
  const revoke = async () => {
    if (!confirm(`Revoke the token "${token.name || token.prefix}"? Whatever uses it stops working at once.`)) return;
    try {
      await api("DELETE", `/tokens/${token.id}`);
      announce(`Revoked the token ${token.name || token.prefix}.`);
      await reload();
    } catch (error) { showError(error); }
  };
  const expired = token.expires_at && new Date(token.expires_at) < new Date();
  const status = token.revoked_at ? badge(`revoked ${when(token.revoked_at)}`, "bad") : expired ? badge("expired", "warn") : badge("active", "ok");
  return h("tr", { dataset: { token: token.id } }, h("td", {}, token.name || "–"), h("td", {}, h("code", {}, `${token.prefix}…`)),
    h("td", {}, when(token.created_at)), h("td", {}, when(token.last_used_at)), h("td", {}, token.expires_at ? when(token.expires_at) : "never"),
    h("td", {}, status),
    h("td", { class: "row-actions" }, token.revoked_at ? null :
      h("button", { type: "button", class: "danger", onclick: revoke }, "Revoke", h("span", { class: "sr-only" }, ` ${token.name || token.prefix}`))));
}
