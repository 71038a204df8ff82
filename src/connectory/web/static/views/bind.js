// Controls bound to a field of the in-memory connector document.
import { field, h } from "../dom.js";

/**
 * A labelled input editing obj[key]. Empty text removes the key (optional fields stay unset).
 * kind: "text" | "number" | "checkbox" | "textarea" | "json" | {options: [...]}.
 */
export function boundField(ctx, obj, key, label, { kind = "text", path, help, required, placeholder, onchange, readonly, def } = {}) {
  let control;
  const value = obj[key];
  if (kind === "checkbox") {
    control = h("input", { type: "checkbox", checked: !!(value ?? def) });
  } else if (kind === "textarea" || kind === "json") {
    control = h("textarea", { rows: kind === "json" ? 8 : 3, spellcheck: kind === "json" ? "false" : "true",
      class: kind === "json" ? "code" : "" }, kind === "json" && value !== undefined ? JSON.stringify(value, null, 2) : value ?? "");
  } else if (typeof kind === "object") {
    control = h("select", {}, kind.options.map((o) => h("option", { value: o, selected: String(value ?? kind.default ?? "") === o }, o)));
  } else {
    control = h("input", { type: kind === "number" ? "number" : kind === "url" ? "url" : "text", step: kind === "number" ? "any" : undefined,
      value: value ?? "", placeholder, readOnly: !!readonly });
  }
  control.addEventListener(kind === "checkbox" || typeof kind === "object" ? "change" : "input", () => {
    if (kind === "checkbox") obj[key] = control.checked;
    else if (kind === "number") {
      if (control.value === "") delete obj[key]; else obj[key] = Number(control.value);
    } else if (kind === "json") {
      const box = control.closest(".field")?.querySelector(".error");
      if (control.value.trim() === "") { delete obj[key]; if (box) box.textContent = ""; } else {
        try { obj[key] = JSON.parse(control.value); if (box) box.textContent = ""; control.removeAttribute("aria-invalid"); }
        catch (error) { if (box) box.textContent = `⚠ Not valid JSON yet: ${error.message}`; control.setAttribute("aria-invalid", "true"); return; }
      }
    } else if (control.value === "" && !required) delete obj[key];
    else obj[key] = control.value;
    ctx.markDirty();
    onchange?.(control.value);
  });
  return field(label, control, { path, help, required });
}
