// Hash routes: "#/connectors/abc/overview" -> the handler of "/connectors/:id/:tab".

const routes = [];

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

/** Go to *path* ("/connectors"). */
export function go(path) {
  if (location.hash === `#${path}`) dispatch();
  else location.hash = path;
}

/** Run the handler of the current hash. */
export function dispatch() {
  const [path, search] = (location.hash.slice(1) || "/connectors").split("?");
  const query = new URLSearchParams(search || "");
  for (const { regex, names, handler } of routes) {
    const match = regex.exec(path);
    if (match) {
      const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1] || "")]));
      return handler(params, query);
    }
  }
  return go("/connectors");
}
