// A connection's call log (filters, older pages, follow, one call's excerpts) and health history.
import { api, showError } from "../api.js";
import { badge, emptyState, field, h, mount } from "../dom.js";

const KINDS = ["operation", "stream", "test", "collection", "hook", "method", "token_refresh", "poll", "webhook_intake", "webhook_delivery", "mcp"];
const FOLLOW_EVERY_MS = 2000;

function when(iso) { return new Date(iso).toLocaleString(); }

function statusBadge(item) {
  const text = item.status === "ok" ? "✓ ok" : "✗ error";
  return badge(item.status_code ? `${text} ${item.status_code}` : text, item.status === "ok" ? "ok" : "bad");
}

/** The call log: newest first, filtered by kind and status; "Follow" adds new calls as they come. */
export function callsSection(connectionId) {
  const kind = h("select", { id: "calls-kind" }, h("option", { value: "" }, "every kind"), KINDS.map((k) => h("option", { value: k }, k)));
  const status = h("select", { id: "calls-status" }, h("option", { value: "" }, "ok and error"), h("option", { value: "ok" }, "ok"), h("option", { value: "error" }, "error"));
  const follow = h("input", { type: "checkbox", id: "calls-follow" });
  const rows = h("tbody", {});
  const more = h("button", { type: "button", hidden: true }, "Older calls");
  const detail = h("div", { "aria-live": "polite" });
  const note = h("p", { class: "muted" });
  let cursor = null;
  let newest = null;
  let timer = null;

  const query = (extra) => {
    const params = new URLSearchParams({ limit: "25", ...extra });
    if (kind.value) params.set("kind", kind.value);
    if (status.value) params.set("status", status.value);
    return `/connections/${connectionId}/calls?${params}`;
  };
  const row = (item) => h("tr", { dataset: { call: item.id } },
    h("td", {}, when(item.started_at)), h("td", {}, item.kind), h("td", {}, item.operation || "–"),
    h("td", {}, statusBadge(item)), h("td", {}, `${item.duration_ms.toFixed(1)} ms`), h("td", {}, String(item.attempts)),
    h("td", {}, h("button", { type: "button", class: "link", onclick: () => show(item.id) }, "Details")));
  const show = async (id) => {
    try {
      const item = await api("GET", `/connections/${connectionId}/calls/${id}`);
      mount(detail, h("section", { class: "call-detail", "aria-label": "Call details" },
        h("h3", {}, `${item.kind} ${item.operation || ""}`), h("p", {}, statusBadge(item), ` ${when(item.started_at)} · ${item.duration_ms.toFixed(1)} ms · ${item.attempts} attempt(s)`),
        h("p", { class: "muted" }, `Call id ${item.id}${item.trace_id ? ` · trace ${item.trace_id}` : ""}${item.parent_id ? ` · inside call ${item.parent_id}` : ""}`),
        item.error_class ? h("p", { class: "error-text" }, `${item.error_class}: ${item.error_message || ""}`) : null,
        h("h4", {}, "Request (redacted)"), h("pre", { class: "code", tabindex: "0" }, item.request_excerpt || "–"),
        h("h4", {}, "Response (redacted)"), h("pre", { class: "code", tabindex: "0" }, item.response_excerpt || "–")));
    } catch (error) { showError(error); }
  };
  const load = async () => {
    try {
      const page = await api("GET", query({}));
      mount(rows, page.items.map(row));
      cursor = page.next_cursor;
      newest = page.items.length ? String(page.items[0].seq) : newest || "0";
      more.hidden = !cursor;
      note.textContent = page.dropped ? `${page.dropped} call(s) could not be recorded by this server (its buffer was full).` : "";
      if (!page.items.length) mount(rows, h("tr", {}, h("td", { colspan: "7", class: "empty-cell" }, "No calls recorded yet.")));
    } catch (error) { showError(error); }
  };
  const older = async () => {
    try {
      const page = await api("GET", query({ cursor }));
      rows.append(...page.items.map(row));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) { showError(error); }
  };
  const poll = async () => {
    // Stop when the page was left: the section is no longer in the document.
    if (!follow.checked || !section.isConnected) { clearInterval(timer); timer = null; return; }
    try {
      const page = await api("GET", query({ after: newest || "0", limit: "200" }));
      if (page.items.length && rows.querySelector("td[colspan]")) rows.replaceChildren();
      for (const item of page.items) rows.prepend(row(item));
      newest = page.next_cursor || newest;
    } catch (error) { follow.checked = false; showError(error); }
  };
  kind.addEventListener("change", load);
  status.addEventListener("change", load);
  more.addEventListener("click", older);
  follow.addEventListener("change", () => {
    if (follow.checked && !timer) timer = setInterval(poll, FOLLOW_EVERY_MS);
  });
  const section = h("section", { class: "card", "aria-labelledby": "calls-title" },
    h("h2", { id: "calls-title" }, "Calls"),
    h("p", { class: "help" }, "Every operation call, test, collection method, hook, token refresh, poll, received webhook, delivery and AI agent tool call of this connection, newest first. Excerpts are redacted and capped."),
    h("div", { class: "filters" }, field("Kind", kind), field("Status", status),
      h("div", { class: "field inline" }, follow, h("label", { for: "calls-follow" }, "Follow new calls")),
      h("button", { type: "button", onclick: load }, "Refresh")),
    note,
    h("table", { class: "grid calls" }, h("thead", {}, h("tr", {}, ["Time", "Kind", "Operation", "Status", "Duration", "Attempts", ""].map((t) => h("th", { scope: "col" }, t)))), rows),
    more, detail);
  load();
  return section;
}

/** Each change of the connection's health, newest first, with its reason. */
export function healthHistorySection(connectionId) {
  const body = h("div", {});
  const load = async () => {
    try {
      const page = await api("GET", `/connections/${connectionId}/health-history?limit=20`);
      mount(body, page.items.length ? h("table", { class: "grid health-history" },
        h("thead", {}, h("tr", {}, ["Time", "Change", "Reason"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, page.items.map((item) => h("tr", {}, h("td", {}, when(item.at)),
          h("td", {}, `${item.previous} → ${item.health}`), h("td", {}, item.detail)))))
        : emptyState("No health change recorded yet."));
    } catch (error) { showError(error); }
  };
  load();
  return h("section", { class: "card", "aria-labelledby": "health-history-title" },
    h("h2", { id: "health-history-title" }, "Health history"), body);
}
