// The Events tab of the builder: webhook and poll events with forms (the rest in YAML).
import { h } from "../dom.js";
import { boundField } from "./bind.js";
import { eventCredentials, eventTestSection } from "./event-test.js";

const PRESETS = ["none", "standard-webhooks"];

function blankEvent(type, index) {
  if (type === "poll") {
    return { key: `changed_${index + 1}`, name: "", type: "poll",
      poll: { operation: "", id_field: "id", updated_field: "updated_at", interval_seconds: 60, overlap_seconds: 5 } };
  }
  return { key: `event_${index + 1}`, name: "", type: "webhook",
    webhook: { subscribe: { operation: "", input: { url: "{{ webhook_url }}" } }, handle: { items: "$" } } };
}

export function renderEvents(panel, state, ctx) {
  const doc = state.doc;
  doc.events ??= [];
  const operations = (doc.operations || []).map((op) => op.operation || op.name).filter(Boolean);
  const opChoice = { options: ["", ...operations], default: "" };
  const rerender = () => { panel.replaceChildren(); renderEvents(panel, state, ctx); };
  const add = (type) => { doc.events.push(blankEvent(type, doc.events.length)); ctx.markDirty(); rerender(); };
  panel.append(h("p", { class: "help" },
    "Events tell connections when something changes: a webhook the connection registers (subscribe, handle, ",
    "unsubscribe), or a poll of a list operation with a cursor. Global webhooks, refresh, challenges and every ",
    "other field are edited in the YAML tab. To try one, use its Test section: a poll or collection event is pulled ",
    "once with test credentials (then again from where it stopped), a webhook event handles a sample request. ",
    "Nothing is stored; published, a connection subscribes on its page and watches its live feed."),
  h("div", { class: "actions" },
    h("button", { type: "button", class: "edit", onclick: () => add("webhook") }, "Add webhook event"),
    h("button", { type: "button", class: "edit", onclick: () => add("poll") }, "Add poll event")));
  // One set of test credentials for every event's Test section (kept for the session only).
  const testable = state.id && state.canEdit && doc.events.length;
  const credsBox = testable ? eventCredentials(state) : null;
  if (credsBox) panel.append(credsBox);
  doc.events.forEach((event, index) => {
    const at = `events.${index}`;
    const card = h("section", { class: "card", "aria-label": `Event ${event.key}` },
      h("h2", {}, `${event.name || event.key} (${event.type})`),
      h("div", { class: "form-grid" },
        boundField(ctx, event, "key", `Key of event ${index + 1}`, { path: `${at}.key`, required: true }),
        boundField(ctx, event, "name", `Name of event ${index + 1}`, { path: `${at}.name` })));
    if (event.type === "webhook") {
      const hook = event.webhook ??= {};
      hook.handle ??= {};
      hook.subscribe ??= { operation: "", input: {} };
      hook.subscribe.input ??= {};
      const urlParam = Object.keys(hook.subscribe.input).find((k) => hook.subscribe.input[k] === "{{ webhook_url }}") || "url";
      const holder = { name: urlParam };
      const verification = { preset: hook.verification?.preset || "none", secret: hook.verification?.secret || "" };
      const syncVerification = () => {
        if (verification.preset === "none") delete hook.verification;
        else hook.verification = { ...(hook.verification || {}), preset: verification.preset, secret: verification.secret || "{{ credentials.webhook_secret }}" };
      };
      card.append(h("div", { class: "form-grid" },
        boundField(ctx, hook.subscribe, "operation", `Subscribe operation of ${event.key}`, { kind: opChoice, path: `${at}.webhook.subscribe.operation`,
          help: "Registers the webhook URL with the provider." }),
        boundField(ctx, holder, "name", `Parameter that receives the URL (${event.key})`, { path: `${at}.webhook.subscribe.input`,
          onchange: (value) => {
            for (const k of Object.keys(hook.subscribe.input)) if (hook.subscribe.input[k] === "{{ webhook_url }}") delete hook.subscribe.input[k];
            if (value) hook.subscribe.input[value] = "{{ webhook_url }}";
          } }),
        boundField(ctx, hook.handle, "items", `Events in the body (${event.key})`, { path: `${at}.webhook.handle.items`, help: "Selector, e.g. events; $ for the body itself." }),
        boundField(ctx, hook.handle, "type", `Event type template (${event.key})`, { path: `${at}.webhook.handle.type`, placeholder: "{{ item.type }}" }),
        boundField(ctx, hook.handle, "id", `Dedup id template (${event.key})`, { path: `${at}.webhook.handle.id`, placeholder: "{{ item.id }}" }),
        boundField(ctx, verification, "preset", `Signature (${event.key})`, { kind: { options: PRESETS, default: "none" }, path: `${at}.webhook.verification`, onchange: syncVerification }),
        boundField(ctx, verification, "secret", `Signing secret template (${event.key})`, { path: `${at}.webhook.verification.secret`, placeholder: "{{ credentials.webhook_secret }}", onchange: syncVerification })));
    } else if (event.type === "poll") {
      const poll = event.poll ??= {};
      card.append(h("div", { class: "form-grid" },
        boundField(ctx, poll, "operation", `List operation of ${event.key}`, { kind: opChoice, path: `${at}.poll.operation` }),
        boundField(ctx, poll, "since_parameter", `"Updated since" parameter (${event.key})`, { path: `${at}.poll.since_parameter` }),
        boundField(ctx, poll, "id_field", `Record id field (${event.key})`, { path: `${at}.poll.id_field` }),
        boundField(ctx, poll, "updated_field", `Updated-at field (${event.key})`, { path: `${at}.poll.updated_field` }),
        boundField(ctx, poll, "interval_seconds", `Interval, seconds (${event.key})`, { kind: "number", path: `${at}.poll.interval_seconds` }),
        boundField(ctx, poll, "overlap_seconds", `Overlap, seconds (${event.key})`, { kind: "number", path: `${at}.poll.overlap_seconds` })));
    } else {
      card.append(h("p", { class: "help" }, "Edited in the YAML tab."));
    }
    card.append(h("button", { type: "button", class: "edit", onclick: () => { doc.events.splice(index, 1); ctx.markDirty(); rerender(); } }, `Remove ${event.key}`));
    const test = event.key ? eventTestSection(event, state, ctx, credsBox || h("div", {})) : null;
    if (test) card.append(test);
    panel.append(card);
  });
}
