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
    this.script = body?.script || null; // where connector JavaScript failed (file, line, stack, logs)
  }
}

// Counts the errors shown, so a request knows whether the error on screen came before it.
let errorsShown = 0;

/**
 * Call the API. *body*: an object (sent as JSON), a Blob/ArrayBuffer (sent raw) or undefined.
 * Returns parsed JSON, text, or null for 204. A success clears an error banner shown before
 * the request started (the next successful action), unless *quiet* (background requests,
 * such as rendering the YAML view, are not the user's action).
 */
export async function api(method, path, body, { contentType, quiet = false } = {}) {
  const headers = { "X-Connectory-UI": "1", Accept: "application/json" };
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    payload = body;
    headers["Content-Type"] = contentType || "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const errorsBefore = errorsShown;
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (response.ok && !quiet && errorsShown === errorsBefore) clearError();
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
/**
 * Announce a message in the aria-live status region. kind "info" fades after 6 s; "error"
 * stays until the error is resolved, the next successful action, or another view.
 */
export function announce(message, kind = "info") {
  const region = document.getElementById("status");
  region.className = `status status-${kind}`;
  region.textContent = message;
  clearTimeout(clearTimer);
  if (kind === "error") errorsShown += 1;
  else clearTimer = setTimeout(() => { region.textContent = ""; region.className = "status"; }, 6000);
}

/** Clear the status region if it shows an error (its cause is gone, or the user moved on). */
export function clearError() {
  const region = document.getElementById("status");
  if (!region?.classList.contains("status-error")) return;
  region.textContent = "";
  region.className = "status";
}

/** Show an error (an ApiError or any Error) in the status region. */
export function showError(error) {
  const extra = error.issues?.length ? ` (${error.issues.map((i) => i.message).join("; ")})` : "";
  announce(`Error: ${error.message}${extra}`, "error");
}
