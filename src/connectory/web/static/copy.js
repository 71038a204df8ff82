// Copying a value (an id, a new token's secret) to the clipboard, saying so in the status line.
import { announce } from "./api.js";
import { h } from "./dom.js";

/**
 * Copy *text*; *select* (an input) is selected first, so the value can be copied by hand when
 * the browser refuses the clipboard (an insecure origin, a denied permission).
 */
export async function copyText(text, what, select) {
  select?.select();
  try {
    await navigator.clipboard.writeText(text);
    announce(`${what} copied.`);
  } catch {
    announce(`The browser refused the clipboard: copy the ${what.toLowerCase()} from its box${select ? " (selected)" : ""}.`, "error");
  }
}

/** A labelled value with a copy button: "Connection id abc… [Copy id]". */
export function copyable(id, label, value, buttonText) {
  const code = h("code", { id, class: "copy-value" }, value);
  const selectCode = { select: () => getSelection()?.selectAllChildren(code) };
  return h("p", { class: "copyable" }, h("span", { class: "label" }, `${label} `), code, " ",
    h("button", { type: "button", "aria-describedby": id, onclick: () => copyText(value, label, selectCode) }, buttonText));
}
