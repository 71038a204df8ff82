// Formatting for the code editor: YAML with the `yaml` library's document API, which keeps
// comments and blank lines (a value-level round trip would drop them), and JSON by re-spacing
// its tokens, so numbers and strings stay byte for byte (JSON.parse would round 2^53+ integers).
// Text that does not parse is left alone: formatting never changes what a document means.
import { sameData } from "./equal.js";
import { parseDocument } from "yaml";

const YAML_OPTIONS = { intAsBigInt: true, prettyErrors: false, uniqueKeys: false };

/**
 * Format *text* written in *language*.
 *
 * @param {string} text
 * @param {"yaml"|"json"} language
 * @returns {{text: string} | {error: string}} the formatted text, or why it was left as is
 */
export function formatText(text, language) {
  if (language === "json") return formatJson(text);
  if (language === "yaml") return formatYaml(text);
  return { error: `no formatter for ${language}` };
}

function formatYaml(text) {
  if (!text.trim()) return { text };
  const doc = parseDocument(text, YAML_OPTIONS);
  if (doc.errors.length) return { error: `the YAML does not parse (${doc.errors[0].message.split("\n")[0]}); fix it first` };
  // lineWidth 0: long strings stay on one line (folding them is a style choice, not a fix).
  const formatted = doc.toString({ indent: 2, indentSeq: true, lineWidth: 0, minContentWidth: 0 });
  const again = parseDocument(formatted, YAML_OPTIONS);
  // A safety net: the formatted text must read back to the same data.
  if (again.errors.length || !sameData(doc.toJS({ maxAliasCount: -1 }), again.toJS({ maxAliasCount: -1 }))) {
    return { error: "formatting would change what this YAML means; it was left as is" };
  }
  return { text: formatted };
}

function formatJson(text) {
  if (!text.trim()) return { text };
  try { JSON.parse(text); } catch (error) { return { error: `the JSON does not parse (${error.message}); fix it first` }; }
  let out = "";
  let depth = 0;
  const newline = () => `\n${"  ".repeat(depth)}`;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '"') { // a string, copied as written (escapes included)
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      let j = i + 1;
      while (/\s/.test(text[j])) j += 1;
      if (text[j] === close) { out += c + close; i = j; continue; } // {} and [] stay short
      depth += 1;
      out += c + newline();
    } else if (c === "}" || c === "]") {
      depth -= 1;
      out += newline() + c;
    } else if (c === ",") out += `,${newline()}`;
    else if (c === ":") out += ": ";
    else if (!/\s/.test(c)) out += c;
  }
  return { text: `${out}\n` };
}
