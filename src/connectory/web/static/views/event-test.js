// The Events tab's "Test": pull a poll or collection event once (then again from where it
// stopped), or run a webhook event's handle on a sample request; nothing is stored.
import { api, announce, showError } from "../api.js";
import { badge, field, h, mount } from "../dom.js";
import { fieldsForm, readFields } from "../forms.js";

// Test credentials and each event's last pull live in this module's memory only: never saved.
const testCredentials = new Map();
const lastPulls = new Map();

const PULLED = new Set(["poll", "collection"]);

/** The shared "test credentials" fieldset of the Events tab (values kept for the session). */
export function eventCredentials(state) {
  const creds = fieldsForm(state.doc.auth?.credential_schema || {}, { prefix: "evcred" });
  const remembered = testCredentials.get(state.id) || {};
  for (const input of creds.querySelectorAll("[data-name]")) {
    if (remembered[input.dataset.name] !== undefined) input.value = remembered[input.dataset.name];
  }
  return h("fieldset", { class: "event-test-credentials" },
    h("legend", {}, "Test credentials for events (this session only, never saved)"), creds);
}

/** "Name: value" lines into headers; a line without a colon is an error the user sees. */
export function parseHeaders(text) {
  const headers = {};
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    if (!line.trim()) continue;
    const at = line.indexOf(":");
    if (at <= 0) throw new Error(`Header line ${index + 1} is not "Name: value".`);
    headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return headers;
}

/** The Test section of one event card. */
export function eventTestSection(event, state, ctx, credsBox) {
  const key = event.key;
  const slug = String(key).replace(/[^a-zA-Z0-9_-]/g, "-");
  const section = h("section", { class: "event-test", "aria-label": `Test ${key}` }, h("h3", {}, "Test"));
  if (!state.id) { section.append(h("p", { class: "help" }, "Create the draft first, then test its events here.")); return section; }
  if (!state.canEdit) { section.append(h("p", { class: "help" }, "Only the connector's editors can test events.")); return section; }
  const out = h("div", { class: "test-out", "aria-live": "polite" });
  const credentials = () => {
    const values = readFields(credsBox);
    testCredentials.set(state.id, values);
    return values;
  };
  const ensureSaved = async () => (state.dirty ? ctx.save() : true);
  const call = (body) => api("POST", `/connectors/${state.id}/draft/event-test`, { event: key, credentials: credentials(), ...body });
  if (PULLED.has(event.type)) {
    const memo = `${state.id}:${key}`;
    const again = h("button", { type: "button", id: `pull-again-${slug}` }, "Pull again");
    const pull = async (fromLast) => {
      if (!(await ensureSaved())) return;
      const last = fromLast ? lastPulls.get(memo) : null;
      mount(out, h("p", {}, "Pulling…"));
      try {
        const result = await call(last ? { state: last.state, seen: last.seen } : {});
        if (!result.error) lastPulls.set(memo, { state: result.state, seen: result.seen });
        again.disabled = !lastPulls.has(memo);
        mount(out, pullView(result, !!last));
        announce(result.error ? `Pull of ${key} failed: ${result.error}` : `Pull of ${key}: ${result.event_count} new event(s).`,
          result.error ? "error" : "info");
      } catch (error) {
        mount(out, h("p", { class: "error-text" }, `✗ ${error.message}`));
        showError(error);
      }
    };
    again.disabled = !lastPulls.has(memo);
    again.addEventListener("click", () => pull(true));
    section.append(
      h("p", { class: "help" }, "One pull against the real API with the test credentials, as a subscription's poll: the first one only ",
        "records where things stand. Pull again continues from the state it returned: an unchanged API gives no new events."),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", id: `pull-now-${slug}`, onclick: () => pull(false) }, "Pull now"), again),
      out);
    return section;
  }
  if (event.type === "webhook" || event.type === "global_webhook") {
    const headers = h("textarea", { id: `sample-headers-${slug}`, rows: "3", spellcheck: "false",
      placeholder: "Content-Type: application/json\nwebhook-id: msg_1" });
    const body = h("textarea", { id: `sample-body-${slug}`, rows: "6", spellcheck: "false", placeholder: '{"events": [...]}' });
    const handle = async () => {
      let sent;
      try { sent = parseHeaders(headers.value); } catch (error) { mount(out, h("p", { class: "error-text" }, `✗ ${error.message}`)); return; }
      if (!(await ensureSaved())) return;
      mount(out, h("p", {}, "Handling…"));
      try {
        const result = await call({ request: { headers: sent, body: body.value } });
        mount(out, handleView(result));
        announce(`Handle of ${key}: ${result.event_count} event(s).`);
      } catch (error) {
        mount(out, h("p", { class: "error-text" }, `✗ ${error.message}`));
        showError(error);
      }
    };
    section.append(
      h("p", { class: "help" }, "Paste a request as the provider sends it. Its signature is checked with the test credentials and ",
        "reported; the events are shown either way. Nothing is stored."),
      field(`Sample headers (${key})`, headers, { help: "One \"Name: value\" per line." }),
      field(`Sample body (${key})`, body),
      h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: `handle-${slug}`, onclick: handle }, "Handle")),
      out);
    return section;
  }
  return null;
}

function eventsTable(result) {
  if (!result.events.length) return h("p", { class: "no-events" }, "No new events.");
  const more = result.event_count > result.events.length ? h("p", { class: "help" }, `Showing ${result.events.length} of ${result.event_count}.`) : null;
  return h("div", {}, h("table", { class: "grid event-results" },
    h("caption", {}, `${result.event_count} event(s)`),
    h("thead", {}, h("tr", {}, ["Type", "Id", "Occurred at", "Payload"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, result.events.map((item) => h("tr", {},
      h("td", {}, item.type), h("td", {}, h("code", {}, item.id ?? "—")), h("td", {}, item.occurred_at || "—"),
      h("td", {}, h("details", {}, h("summary", {}, "Payload"), h("pre", { class: "body" }, JSON.stringify(item.payload, null, 2)))))))), more);
}

function pullView(result, again) {
  const exchanges = result.exchanges.map((x) => h("li", {}, h("code", {}, `${x.request.method} ${x.request.url}`), ` → ${x.status_code ?? "no answer"}`));
  return h("div", { class: "event-test-result" },
    result.error ? h("p", { class: "error-text" }, `✗ ${result.error}`) : null,
    result.error ? null : h("p", {}, badge(result.event_count ? `${result.event_count} new` : "no new events", result.event_count ? "ok" : "neutral"),
      again ? "" : " (a first pull only records where things stand)",
      result.repeated ? ` · ${result.repeated} read again, already emitted` : "",
      result.cursor ? [" · cursor ", h("code", {}, result.cursor)] : ""),
    result.error ? null : eventsTable(result),
    exchanges.length ? h("details", {}, h("summary", {}, `Requests (${exchanges.length})`), h("ol", {}, exchanges)) : null);
}

function handleView(result) {
  const signature = result.signature;
  return h("div", { class: "event-test-result" },
    signature ? h("p", {}, "Signature: ", badge(signature.valid === null ? "not checked" : signature.valid ? "valid" : "invalid",
      signature.valid === null ? "warn" : signature.valid ? "ok" : "bad"), ` ${signature.message}`) : null,
    result.response ? h("p", {}, `Intake would answer HTTP ${result.response.status_code}: `, h("code", {}, result.response.body)) : null,
    eventsTable(result));
}
