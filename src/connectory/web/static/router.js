// Hash routes: "#/connectors/abc/overview" -> the handler of "/connectors/:id/:tab".
import { clearError } from "./api.js";

const routes = [];
// The shown view's guard against leaving it with unsaved work: {stays(path), leave()}.
let guard = null;

/** Register *handler(params, query)* for a pattern like "/connectors/:id/:tab?". */
export function route(pattern, handler) {
  const names = [];
  const source = pattern
    .split("/")
    .map((part) => {
      if (!part.startsWith(":")) return part;
      const optional = part.endsWith("?");
      names.push(part.slice(1).replace("?", ""));
      return optional ? "?([^/]*)" : "([^/]+)";
    })
    .join("/");
  routes.push({ regex: new RegExp(`^${source.replace("/?(", "/?(")}$`), names, handler });
}

/**
 * Guard the view being shown: before the app goes to a path for which *stays(path)* is false,
 * *leave()* runs; it returns false to stay (it asks the user when work is unsaved). The next
 * route replaces the guard.
 */
export function guardLeaving(next) {
  guard = next;
}

/** Drop the guard without asking (the session ended: the view keeps its work in memory). */
export function dropGuard() {
  guard = null;
}

/** Whether the app may leave the shown view for *path*; asks the guard, which may ask the user. */
export function confirmLeave(path) {
  if (!guard || guard.stays(path)) return true;
  if (!guard.leave()) return false;
  guard = null;
  return true;
}

/** Go to *path* ("/connectors"). */
export function go(path) {
  if (location.hash === `#${path}`) dispatch();
  else location.hash = path;
}

function currentPath() {
  return (location.hash.slice(1) || "/connectors").split("?");
}

/** The hashchange listener: ask before leaving unsaved work, then show the new route. */
export function navigate(event) {
  const [path] = currentPath();
  if (!confirmLeave(path)) {
    // Stay: put the address back without another hashchange.
    history.replaceState(null, "", event.oldURL);
    return;
  }
  // An error banner belongs to the view it was shown in.
  clearError();
  dispatch();
}

/** Run the handler of the current hash. */
export function dispatch() {
  const [path, search] = currentPath();
  const query = new URLSearchParams(search || "");
  guard = null; // the handler guards its view again if it has to
  for (const { regex, names, handler } of routes) {
    const match = regex.exec(path);
    if (match) {
      const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1] || "")]));
      return handler(params, query);
    }
  }
  return go("/connectors");
}
