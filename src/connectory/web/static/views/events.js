// Events in the UI: a connection's subscriptions and live feed; the enterprise's webhook
// endpoints, deliveries with their attempts, dead letters and replay.
import { api, announce, showError } from "../api.js";
import { badge, emptyState, field, h, mount } from "../dom.js";

const STATUS = { active: "ok", subscribing: "neutral", failing: "bad", paused: "warn", unsubscribing: "neutral",
  succeeded: "ok", pending: "neutral", in_flight: "neutral", dead: "bad" };

function statusBadge(status) { return badge(status, STATUS[status] || "neutral"); }
function when(value) { return value ? new Date(value).toLocaleString() : "—"; }
function isAdmin(me) { return me.user.role === "enterprise_admin"; }

/** The events section of a connection page: subscribe, subscriptions with status, a live feed. */
export function eventsSection(connection, version, me) {
  const events = version.document.events || [];
  const section = h("section", { class: "card", id: "events" }, h("h2", {}, "Events"));
  if (!events.length) { section.append(h("p", { class: "muted" }, "This connector declares no events.")); return section; }
  const list = h("div", {});
  const feed = h("ol", { class: "feed", "aria-live": "polite", "aria-label": "Live event feed" });
  const reload = async () => {
    const rows = await api("GET", `/subscriptions?connection_id=${connection.id}`);
    mount(list, rows.length ? h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ["Event", "Status", "Last activity", "Lag", "Intake URL", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((s) => h("tr", {},
        h("td", {}, s.event),
        h("td", {}, statusBadge(s.status), s.last_error ? h("div", { class: "error-text" }, `${s.last_error}${s.retry_at ? ` (retry ${when(s.retry_at)})` : ""}`) : null),
        h("td", {}, when(s.last_activity_at)),
        h("td", {}, s.lag_seconds === null ? "—" : `${Math.round(s.lag_seconds)} s`),
        h("td", {}, s.intake_url ? h("code", {}, s.intake_url) : "—"),
        h("td", {}, isAdmin(me) ? [
          h("button", { type: "button", onclick: () => act("POST", `/subscriptions/${s.id}/${s.status === "paused" ? "resume" : "pause"}`) }, s.status === "paused" ? "Resume" : "Pause"),
          h("button", { type: "button", onclick: () => act("DELETE", `/subscriptions/${s.id}`) }, "Unsubscribe")] : null)))))
      : emptyState("No subscriptions yet."));
  };
  const act = async (method, path) => {
    try { await api(method, path); await reload(); } catch (error) { showError(error); }
  };
  const choice = h("select", { id: "sub-event" }, events.map((e) => h("option", { value: e.key }, `${e.name || e.key} (${e.type})`)));
  const subscribe = async (event) => {
    event.preventDefault();
    try {
      const created = await api("POST", "/subscriptions", { connection_id: connection.id, event: choice.value, parameters: {} });
      announce(`Subscribed to ${created.event}.`);
      await reload();
    } catch (error) { showError(error); }
  };
  let after = 0;
  let stopped = false;
  const follow = async () => {
    // Long-poll the pull API for this connection's events while the section is on the page.
    while (!stopped && section.isConnected) {
      try {
        const page = await api("GET", `/events?connection_id=${connection.id}&after=${after}&wait=20`);
        for (const item of page.items) {
          feed.prepend(h("li", {}, h("strong", {}, item.type), ` · ${when(item.received_at)} · `,
            h("code", {}, JSON.stringify(item.data).slice(0, 300))));
        }
        after = page.next_after;
        if (page.items.length) await reload();
      } catch { stopped = true; }
    }
  };
  section.append(
    isAdmin(me) ? h("form", { class: "inline-form", onsubmit: subscribe }, field("Event", choice), h("button", { type: "submit", class: "primary" }, "Subscribe")) : null,
    list, h("h3", {}, "Live feed"), feed);
  reload().catch(showError);
  // Statuses move on in the background (subscribing -> active, failing, lag): keep them fresh.
  const refresh = setInterval(() => {
    if (!section.isConnected) { clearInterval(refresh); stopped = true; return; }
    reload().catch(() => {});
  }, 2000);
  // The first page is the newest history; then it waits for what comes next.
  setTimeout(follow, 0);
  return section;
}

/** #/events: webhook endpoints, deliveries with attempts, dead letters and replay. */
export async function showEvents(view, params, query, me) {
  const endpoints = await api("GET", "/webhook-endpoints");
  const status = query.get("status") || "";
  const deliveries = await api("GET", `/deliveries?limit=100${status ? `&status=${status}` : ""}`);
  const secretOut = h("div", { "aria-live": "polite" });
  const url = h("input", { id: "endpoint-url", type: "url", placeholder: "https://example.com/connectory" });
  const reload = () => showEvents(view, params, query, me);
  const showSecret = (endpoint, verb) => mount(secretOut, h("p", { class: "card notice", role: "status" },
    `${verb} ${endpoint.url}. Its signing secret, shown this once: `, h("code", {}, endpoint.secret)));
  const add = async (event) => {
    event.preventDefault();
    try { showSecret(await api("POST", "/webhook-endpoints", { url: url.value }), "Added"); url.value = ""; } catch (error) { showError(error); }
  };
  const endpointRows = endpoints.map((e) => h("tr", {},
    h("td", {}, h("code", {}, e.url)), h("td", {}, e.enabled ? statusBadge("active") : badge("disabled", "warn")),
    h("td", {}, e.event_types ? e.event_types.join(", ") : "all"),
    h("td", {}, isAdmin(me) ? [
      h("button", { type: "button", onclick: async () => { try { await api("POST", `/webhook-endpoints/${e.id}/test`); announce("Test event queued."); } catch (error) { showError(error); } } }, "Send a test event"),
      h("button", { type: "button", onclick: async () => { try { showSecret(await api("POST", `/webhook-endpoints/${e.id}/rotate-secret`), "Rotated the secret of"); } catch (error) { showError(error); } } }, "Rotate secret"),
      h("button", { type: "button", onclick: async () => { try { await api("DELETE", `/webhook-endpoints/${e.id}`); await reload(); } catch (error) { showError(error); } } }, "Delete")] : null)));
  const attempts = h("div", { "aria-live": "polite" });
  const showAttempts = async (id) => {
    try {
      const d = await api("GET", `/deliveries/${id}`);
      mount(attempts, h("section", { class: "card" }, h("h3", {}, `Delivery ${d.id}`),
        h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["Attempt", "Status", "Error", "Duration"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, (d.attempt_log || []).map((a) => h("tr", {}, h("td", {}, when(a.attempted_at)),
            h("td", {}, a.status_code ?? "—"), h("td", {}, a.error || ""), h("td", {}, `${a.duration_ms} ms`)))))));
    } catch (error) { showError(error); }
  };
  const replay = async (id) => {
    try { await api("POST", `/deliveries/${id}/replay`); announce("Replay queued."); await reload(); } catch (error) { showError(error); }
  };
  const filters = ["", "pending", "succeeded", "dead"].map((s) => h("a", { href: `#/events${s ? `?status=${s}` : ""}`, "aria-current": s === status ? "page" : null }, s || "all"));
  mount(view, h("h1", {}, "Events"),
    h("section", { class: "card" }, h("h2", {}, "Webhook endpoints"),
      isAdmin(me) ? h("form", { class: "inline-form", onsubmit: add }, field("URL", url), h("button", { type: "submit", class: "primary" }, "Add endpoint")) : null,
      secretOut,
      endpoints.length ? h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["URL", "State", "Types", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, endpointRows))
        : emptyState("No endpoints: events are only in the pull API (GET /events).")),
    h("section", { class: "card" }, h("h2", {}, "Deliveries"), h("p", { class: "filters" }, "Show: ", filters),
      deliveries.length ? h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ["Created", "Status", "Attempts", "Last answer", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, deliveries.map((d) => h("tr", {}, h("td", {}, when(d.created_at)), h("td", {}, statusBadge(d.status)),
          h("td", {}, String(d.attempts)), h("td", {}, d.last_status_code ? `HTTP ${d.last_status_code}` : d.last_error || "—"),
          h("td", {}, h("button", { type: "button", onclick: () => showAttempts(d.id) }, "Attempts"),
            isAdmin(me) && (d.status === "dead" || d.status === "succeeded") ? h("button", { type: "button", onclick: () => replay(d.id) }, "Replay") : null)))))
        : emptyState(status === "dead" ? "No dead letters." : "No deliveries yet."),
      attempts));
}
