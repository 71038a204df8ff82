// Building DOM nodes without innerHTML, so no value from the API is ever parsed as HTML.

/** Create an element: h("button", {class: "x", onclick: fn}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key in node && typeof value !== "string") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the content of *node*. */
export function mount(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let counter = 0;
/** A unique id for label/input pairs. */
export function uid(prefix = "f") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A labelled control: label above, help and error below (aria-describedby). */
export function field(labelText, control, { help, required, path } = {}) {
  const id = control.id || uid();
  control.id = id;
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  control.setAttribute("aria-describedby", `${helpId} ${errorId}`);
  if (required) control.required = true;
  if (path) control.dataset.path = path;
  return h(
    "div",
    { class: "field", dataset: path ? { fieldPath: path } : {} },
    h("label", { for: id }, labelText, required ? h("span", { class: "req", title: "required" }, " * (required)") : null),
    control,
    h("div", { class: "help", id: helpId }, help || ""),
    h("div", { class: "error", id: errorId, dataset: { errorFor: path || "" } }),
  );
}

/**
 * A region showing the problems of *path* that have no field of their own (e.g. "auth" for
 * "auth.api_key"): its error box comes first, then *children*. See views/problems.js.
 */
export function group(path, attrs, ...children) {
  return h("div", { ...attrs, class: `group ${attrs?.class || ""}`.trim(), "data-path": path },
    h("div", { class: "error", "data-error-for": path }), ...children);
}

/** A status badge with text (never colour alone). */
export function badge(text, kind = "neutral") {
  return h("span", { class: `badge badge-${kind}` }, text);
}

/**
 * What a view shows when it has nothing to list: one look everywhere (a dashed box, the
 * fact, and optionally what to do next).
 */
export function emptyState(text, hint) {
  return h("div", { class: "empty-state" }, h("p", {}, text), hint ? h("p", { class: "help" }, hint) : null);
}
