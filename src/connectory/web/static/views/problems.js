// Problems (from the server's checks, or from input that does not parse) shown at their fields.
//
// The contract any tab follows: an element whose `data-path` is a problem path
// ("operations[0].parameters[1].default", the server's format) is where that problem shows,
// and its message goes into the `[data-error-for="<same path>"]` box (dom.js `field()` and
// `group()` make both). A problem whose own path has no element shows at the nearest ancestor
// path that has one ("auth.api_key" -> "auth"); one with none on the page is "unplaced": the
// problem list above the tabs always shows every problem, with a link to its field.
import { badge, h } from "../dom.js";

const LAST_SEGMENT = /(\.[^.[\]]*|\[[^\]]*\])$/;

/**
 * The path one level up: "a.b[2].c" -> "a.b[2]" -> "a.b" -> "a" -> "". Always shorter than
 * *path*, so a loop walking up from any string ends.
 */
export function parentPath(path) {
  if (!path) return "";
  const stripped = path.replace(LAST_SEGMENT, "");
  return stripped.length < path.length ? stripped : "";
}

/** Whether *path* is *prefix* or lies under it ("operations[1].name" under "operations"). */
export function isUnder(path, prefix) {
  return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
}

/** The element showing *path* in *root*, or the one of its nearest ancestor path; null if none. */
export function findTarget(root, path) {
  for (let at = path || ""; at; at = parentPath(at)) {
    const element = root.querySelector(`[data-path="${CSS.escape(at)}"]`);
    if (element) return { element, path: at };
  }
  return null;
}

function isControl(element) {
  // The code editor's content is a textbox too (role="textbox" on a contenteditable).
  return ["INPUT", "SELECT", "TEXTAREA"].includes(element.tagName) || element.getAttribute("role") === "textbox";
}

/**
 * Write *message* in the error box of *path*, or of its nearest ancestor path that has one;
 * false when there is none in *root*.
 */
export function markAt(root, path, message) {
  for (let at = path || ""; at; at = parentPath(at)) {
    const box = root.querySelector(`[data-error-for="${CSS.escape(at)}"]`);
    if (!box) continue;
    const element = root.querySelector(`[data-path="${CSS.escape(at)}"]`);
    // aria-invalid only where ARIA allows it: on form controls, not on groups or buttons.
    if (element && isControl(element)) element.setAttribute("aria-invalid", "true");
    const where = at === path ? "" : `${path.slice(at.length).replace(/^\./, "")}: `;
    box.append(h("span", { class: "problem" }, `⚠ ${where}${message} `));
    return true;
  }
  return false;
}

/**
 * Show each problem at its field in *root*. Returns the problems it could not place (their
 * field is on another tab, or not rendered), which the caller lists elsewhere.
 */
export function markProblems(root, problems) {
  const unplaced = [];
  for (const problem of problems) {
    if (!problem.path || !markAt(root, problem.path, problem.message)) unplaced.push(problem);
  }
  return unplaced;
}

/** Remove the marks of the server's checks from one control (the user is editing it). */
export function clearMarks(control) {
  const path = control.dataset.path;
  if (!path) return;
  control.removeAttribute("aria-invalid");
  const box = control.closest(".field")?.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
  for (const mark of box?.querySelectorAll(".problem") || []) mark.remove();
}

/**
 * The list of every problem, each with a link that shows its field (*reveal(path)*, which
 * switches tab). *labelOf(path)* names the tab a problem is on.
 */
export function problemList(problems, { reveal, labelOf, open }) {
  if (!problems.length) return null;
  const errors = problems.filter((p) => p.severity === "error").length;
  const details = h("details", { class: "problems card", open },
    h("summary", {}, `${errors} error(s), ${problems.length - errors} warning(s)`),
    h("ul", {}, problems.map((p) => h("li", {}, badge(p.severity, p.severity === "error" ? "bad" : "warn"), " ",
      h("button", { type: "button", class: "link", onclick: () => reveal(p.path || "") }, p.path || "connector"),
      h("span", { class: "muted" }, ` (${labelOf(p.path || "")})`),
      p.line ? ` (line ${p.line})` : "", `: ${p.message}`))));
  return details;
}
