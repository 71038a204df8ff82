// Sign-in with an API token; the server keeps it encrypted in an HttpOnly cookie.
import { api, showError } from "../api.js";
import { field, h, mount } from "../dom.js";

export function showSignIn(view, onSignedIn) {
  const token = h("input", { type: "password", name: "token", autocomplete: "off", spellcheck: "false" });
  const form = h("form", { class: "card signin", "aria-labelledby": "signin-title", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api("POST", "/ui/session", { token: token.value });
      token.value = "";
      await onSignedIn();
    } catch (error) {
      showError(error.status === 401 ? new Error("That token is unknown, revoked or expired.") : error);
      token.focus();
    }
  } },
    h("h1", { id: "signin-title" }, "Sign in to Connectory"),
    field("API token", token, { required: true, help: "A token from POST /users/{id}/tokens, or the first admin's token printed by connectory serve. It is kept encrypted in a session cookie, never in the page." }),
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  mount(view, form);
  token.focus();
}
