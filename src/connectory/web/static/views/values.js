// Values typed as text into the builder, saved as the type they declare: an integer default
// "50" is saved as 50, an array default as the JSON array, never as the text typed.

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const JSON_KINDS = {
  array: { test: Array.isArray, example: '["a", "b"]', article: "a JSON array" },
  object: { test: (v) => v !== null && typeof v === "object" && !Array.isArray(v), example: '{"key": "value"}', article: "a JSON object" },
};

/**
 * Parse *text* as a value of *type* (string, password, number, integer, boolean, array,
 * object). Returns `{value}` (undefined for empty text: the value is unset) or `{error}`, a
 * message saying what would fit.
 */
export function parseTyped(text, type = "string") {
  const trimmed = text.trim();
  if (text === "" || (trimmed === "" && type !== "string" && type !== "password")) return { value: undefined };
  if (type === "integer") {
    if (!INTEGER.test(trimmed)) return { error: `"${text}" is not an integer: type a whole number such as 50, or leave it empty.` };
    const value = Number(trimmed);
    if (!Number.isSafeInteger(value)) return { error: `${trimmed} is too large: integers go up to ${Number.MAX_SAFE_INTEGER} either way.` };
    return { value };
  }
  if (type === "number") {
    if (!NUMBER.test(trimmed) || !Number.isFinite(Number(trimmed))) {
      return { error: `"${text}" is not a number: type one such as 2.5 or 10, or leave it empty.` };
    }
    return { value: Number(trimmed) };
  }
  if (type === "boolean") {
    if (["true", "false"].includes(trimmed.toLowerCase())) return { value: trimmed.toLowerCase() === "true" };
    return { error: `"${text}" is not a boolean: choose true or false, or leave it empty.` };
  }
  const kind = JSON_KINDS[type];
  if (kind) {
    let value;
    try { value = JSON.parse(text); } catch (error) {
      return { error: `Not valid JSON (${error.message}): type ${kind.article} such as ${kind.example}, or leave it empty.` };
    }
    return kind.test(value) ? { value } : { error: `Not ${kind.article}: type one such as ${kind.example}, or leave it empty.` };
  }
  return { value: text };
}

/** The text that shows *value* in a text box, and that parseTyped reads back to the same value. */
export function formatTyped(value) {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Parse a JSON Schema box: a JSON object, or empty (unset). */
export function parseSchema(text) {
  const trimmed = text.trim();
  if (trimmed === "") return { value: undefined };
  let value;
  try { value = JSON.parse(trimmed); } catch (error) {
    return { error: `Not valid JSON (${error.message}). The text is kept: fix it, or empty the box, before saving.` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: 'A JSON Schema here is a JSON object, such as {"type": "object"}. Fix it, or empty the box, before saving.' };
  }
  return { value };
}

/**
 * Parse a list of allowed values (a parameter's enum) typed as "a, b, c" or as a JSON array
 * (for values holding commas), each read as *type*. Returns `{value}` (undefined when empty)
 * or `{error}` naming the value that does not fit.
 */
export function parseEnum(text, type = "string") {
  const trimmed = text.trim();
  if (trimmed === "") return { value: undefined };
  let items;
  if (trimmed.startsWith("[")) {
    try { items = JSON.parse(trimmed); } catch (error) {
      return { error: `Not a valid JSON array (${error.message}): type a, b, c or ["a, b", "c"].` };
    }
    if (!Array.isArray(items)) return { error: 'Type the values as a, b, c or as a JSON array ["a", "b"].' };
    items = items.map((item) => (typeof item === "string" ? item : JSON.stringify(item)));
  } else {
    items = trimmed.split(",").map((item) => item.trim()).filter((item) => item !== "");
  }
  const values = [];
  for (const item of items) {
    const result = parseTyped(item, type);
    if (result.error) return { error: `Allowed value ${result.error}` };
    if (result.value !== undefined && !values.some((v) => JSON.stringify(v) === JSON.stringify(result.value))) values.push(result.value);
  }
  return { value: values.length ? values : undefined };
}

/** The text that shows an enum: "a, b, c", or a JSON array when a value holds a comma. */
export function formatEnum(values) {
  if (!Array.isArray(values) || !values.length) return "";
  const texts = values.map(formatTyped);
  return texts.some((text) => text.includes(",") || text.trim() !== text) ? JSON.stringify(values) : texts.join(", ");
}
