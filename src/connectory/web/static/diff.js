// A unified diff shown coloured: added lines green, removed lines red, hunks and file names
// muted, each marked with its sign too (never colour alone).
import { h } from "./dom.js";

function kindOf(line) {
  if (line.startsWith("+++") || line.startsWith("---")) return "file";
  if (line.startsWith("@@")) return "hunk";
  if (line.startsWith("+")) return "added";
  if (line.startsWith("-")) return "removed";
  return "same";
}

/** A <pre> of *unified* (text of a unified diff), one span a line, or *empty* when blank. */
export function diffView(unified, empty = "No changes.") {
  if (!unified) return h("p", { class: "muted" }, empty);
  const lines = unified.replace(/\n$/, "").split("\n");
  return h("pre", { class: "code diff", tabindex: "0" }, lines.map((line) => h("span", { class: `diff-${kindOf(line)}` }, `${line}\n`)));
}
