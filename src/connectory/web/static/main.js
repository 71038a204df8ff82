// Start-up: who is signed in (GET /me), the navigation their role allows, and the routes.
import { api, announce, showError } from "./api.js";
import { h, mount } from "./dom.js";
import { confirmLeave, dispatch, dropGuard, go, navigate, route } from "./router.js";
import { showEnterprises, showTokens, showUsers } from "./views/admin.js";
import { showBuilder } from "./views/builder.js";
import { showConnection, showConnections, showNewConnection } from "./views/connections.js";
import { showEvents } from "./views/events.js";
import { showRecords } from "./views/records.js";
import { showIndex } from "./views/index.js";
import { showSignIn } from "./views/signin.js";

export const session = { me: null };

async function loadMe() {
  try {
    session.me = await api("GET", "/me");
  } catch {
    session.me = null;
  }
  renderChrome();
}

function renderChrome() {
  const me = session.me;
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!me) { mount(nav); mount(who); return; }
  const links = [h("a", { href: "#/connectors" }, "Connectors")];
  if (me.user.role !== "platform_admin") links.push(h("a", { href: "#/connections" }, "Connections"), h("a", { href: "#/events" }, "Events"));
  if (me.user.role === "platform_admin") links.push(h("a", { href: "#/enterprises" }, "Enterprises"));
  if (me.user.role !== "viewer") links.push(h("a", { href: "#/users" }, "Users"));
  links.push(h("a", { href: "#/tokens" }, "API tokens"));
  mount(nav, links);
  const role = me.user.role.replace("_", " ");
  mount(who, h("span", {}, `${me.user.name || me.user.email} · ${role}`),
    h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"));
}

async function signOut() {
  if (!confirmLeave("/signin")) return;
  try { await api("DELETE", "/ui/session"); } catch (error) { showError(error); }
  session.me = null;
  renderChrome();
  go("/signin");
}

function guarded(handler) {
  return async (params, query) => {
    if (!session.me) await loadMe();
    if (!session.me) return go("/signin");
    const view = document.getElementById("view");
    try {
      await handler(view, params, query, session.me);
    } catch (error) {
      showError(error);
    }
  };
}

route("/signin", () => showSignIn(document.getElementById("view"), async () => {
  await loadMe();
  announce(`Signed in as ${session.me.user.email}`);
  go("/connectors");
}));
route("/connectors", guarded(showIndex));
route("/connectors/new", guarded((view, p, q, me) => showBuilder(view, { id: null, tab: "overview" }, me)));
route("/connectors/:id/:tab?", guarded((view, p, q, me) => showBuilder(view, p, me)));
route("/connections", guarded(showConnections));
route("/connections/new", guarded(showNewConnection));
route("/connections/:id", guarded(showConnection));
route("/events", guarded(showEvents));
route("/enterprises", guarded(showEnterprises));
route("/users", guarded(showUsers));
route("/users/:id/tokens", guarded(showTokens));
route("/tokens", guarded(showTokens));
route("/connections/:id/records/:key?", guarded(showRecords));

/** Back from an OAuth authorization (the server sent the browser to /ui/?connectory_status=...). */
function oauthOutcome() {
  const query = new URLSearchParams(location.search);
  const status = query.get("connectory_status");
  if (!status) return;
  history.replaceState(null, "", location.pathname + location.hash);
  if (status === "error") {
    announce(`The authorization did not complete (${query.get("connectory_error") || "error"}); nothing was changed.`, "error");
    return;
  }
  announce(status === "reauthorized" ? "Authorized again." : "Connected.");
  if (query.get("connection_id")) location.hash = `#/connections/${query.get("connection_id")}`;
}

oauthOutcome();
window.addEventListener("hashchange", navigate);
window.addEventListener("connectory:signed-out", () => {
  // The session ended: there is no staying. Unsaved builder work stays in memory for after
  // signing in again (and a reload still asks first).
  dropGuard();
  session.me = null;
  renderChrome();
  if (!location.hash.startsWith("#/signin")) go("/signin");
});
dispatch();
