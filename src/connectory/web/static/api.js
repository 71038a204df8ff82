// The one way the UI talks to the server: same-origin fetch with the session cookie and the
// X-Connectory-UI header (the CSRF rule for cookie-authenticated writes).

/** An error answer of the API, in its common shape. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `request failed (${status})`);
    this.status = status;
    this.code = body?.code;
    this.problems = body?.problems || [];
    this.issues = body?.issues || [];
  }
}

/**
 * Call the API. *body*: an object (sent as JSON), a Blob/ArrayBuffer (sent raw) or undefined.
 * Returns parsed JSON, text, or null for 204.
 */
export async function api(method, path, body, { contentType } = {}) {
  const headers = { "X-Connectory-UI": "1", Accept: "application/json" };
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    payload = body;
    headers["Content-Type"] = contentType || "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    if (response.status === 401 && !path.startsWith("/ui/session")) {
      window.dispatchEvent(new CustomEvent("connectory:signed-out"));
    }
    throw new ApiError(response.status, typeof data === "object" ? data : { detail: data });
  }
  return data;
}

let clearTimer;
/** Announce a message in the aria-live status region. */
export function announce(message, kind = "info") {
  const region = document.getElementById("status");
  region.className = `status status-${kind}`;
  region.textContent = message;
  clearTimeout(clearTimer);
  if (kind !== "error") clearTimer = setTimeout(() => { region.textContent = ""; region.className = "status"; }, 6000);
}

/** Show an error (an ApiError or any Error) in the status region. */
export function showError(error) {
  const extra = error.issues?.length ? ` (${error.issues.map((i) => i.message).join("; ")})` : "";
  announce(`Error: ${error.message}${extra}`, "error");
}
