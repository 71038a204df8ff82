// Completion and hover docs for connector YAML from the format's JSON Schema: the keys of the
// mapping at the cursor, the values a key takes (enum, const, booleans), and each key's
// description. The YAML path at the cursor is read from indentation (block style, as the
// builder and the format's examples write it); flow mappings get no suggestions.

const KEY = /^([A-Za-z0-9_$][A-Za-z0-9_$.-]*|"[^"]*"|'[^']*')\s*:(\s|$)/;

/** One line's shape: its indentation, whether it starts a list item, and the key it holds. */
export function parseLine(text) {
  const match = /^( *)(- +)?(.*)$/.exec(text);
  const rest = match[3];
  const key = KEY.exec(rest);
  return {
    indent: match[1].length,
    dash: !!match[2],
    keyCol: match[1].length + (match[2]?.length || 0),
    key: key ? key[1].replace(/^["']|["']$/g, "") : null,
    blank: !rest.trim() || rest.trim().startsWith("#"),
  };
}

/**
 * The path of the mapping holding a key at column *col* ("operations", "[]", "parameters", "[]"),
 * read from the lines above it (*above*, nearest first). *itemDash*: the column of the dash when
 * the key opens a list item itself, else null.
 */
export function parentPath(above, col, itemDash) {
  const path = [];
  for (const line of above) {
    if (line.blank) continue;
    if (itemDash === null) {
      if (line.dash && line.keyCol === col) { itemDash = line.indent; continue; } // our item's first key
      if (line.keyCol < col && line.key !== null) {
        path.unshift(line.key);
        col = line.keyCol;
        itemDash = line.dash ? line.indent : null;
      }
    } else {
      if (line.keyCol > itemDash || (line.dash && line.indent === itemDash)) continue; // a sibling item
      if (line.key === null) return null; // a list at the top, or a shape this reader does not know
      path.unshift(line.key, "[]");
      col = line.keyCol;
      itemDash = line.dash ? line.indent : null;
    }
  }
  return itemDash === null ? path : null;
}

function resolve(schema, root, seen = 0) {
  if (!schema || typeof schema !== "object" || seen > 20) return null;
  if (typeof schema.$ref === "string" && schema.$ref.startsWith("#/")) {
    const target = schema.$ref.slice(2).split("/").reduce((node, part) => node?.[part.replace(/~1/g, "/").replace(/~0/g, "~")], root);
    return resolve({ ...target, ...withoutRef(schema) }, root, seen + 1);
  }
  return schema;
}

function withoutRef(schema) {
  const { $ref, ...rest } = schema;
  return rest;
}

/** The concrete schemas a schema may be: anyOf/oneOf branches flattened, $refs followed. */
function branches(schema, root, depth = 0) {
  const resolved = resolve(schema, root);
  if (!resolved || depth > 10) return [];
  const choices = [...(resolved.anyOf || []), ...(resolved.oneOf || [])];
  if (!choices.length) return [resolved];
  const own = resolved.properties || resolved.enum || resolved.const !== undefined ? [resolved] : [];
  return [...own, ...choices.flatMap((choice) => branches(choice, root, depth + 1))];
}

/** The schemas at *path* from the root (several when the format offers a choice there). */
export function schemasAt(root, path) {
  let current = branches(root, root);
  for (const segment of path) {
    const next = [];
    for (const schema of current) {
      if (segment === "[]") {
        if (schema.items) next.push(...branches(schema.items, root));
      } else if (schema.properties?.[segment]) {
        next.push(...branches(schema.properties[segment], root));
      } else if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
        next.push(...branches(schema.additionalProperties, root));
      }
    }
    current = next;
    if (!current.length) break;
  }
  return current;
}

function describeType(schema, root) {
  const types = branches(schema, root).map((s) => s.type || (s.const !== undefined ? JSON.stringify(s.const) : s.enum ? "enum" : "object"));
  return [...new Set(types.flat())].filter(Boolean).join(" | ");
}

/** The keys the mappings at *path* take: [{name, schema}] (first description wins). */
export function keysAt(root, path) {
  const keys = new Map();
  for (const schema of schemasAt(root, path)) {
    for (const [name, property] of Object.entries(schema.properties || {})) if (!keys.has(name)) keys.set(name, property);
  }
  return [...keys].map(([name, schema]) => ({ name, schema }));
}

/** The values a key at *path* takes, when the schema lists them. */
export function valuesAt(root, path) {
  const values = new Set();
  for (const schema of schemasAt(root, path)) {
    for (const value of schema.enum || []) values.add(value);
    if (schema.const !== undefined) values.add(schema.const);
    if (schema.type === "boolean") { values.add(true); values.add(false); }
  }
  return [...values].filter((v) => v === null || typeof v !== "object");
}

function docOf(schema, root) {
  const branch = branches(schema, root).find((s) => s.description || s.title) || resolve(schema, root);
  return branch?.description || branch?.title || "";
}

function linesAbove(doc, lineNumber) {
  const above = [];
  for (let n = lineNumber - 1; n >= 1; n -= 1) above.push(parseLine(doc.line(n).text));
  return above;
}

/** A CodeMirror completion source over *schema*. */
export function schemaCompletion(schema) {
  return (context) => {
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    const keyMatch = /^( *)(- +)?([A-Za-z0-9_$-]*)$/.exec(before);
    if (keyMatch) {
      const word = keyMatch[3];
      if (!word && !context.explicit) return null;
      const col = keyMatch[1].length + (keyMatch[2]?.length || 0);
      const path = parentPath(linesAbove(context.state.doc, line.number), col, keyMatch[2] ? keyMatch[1].length : null);
      if (!path) return null;
      const options = keysAt(schema, path).map(({ name, schema: property }) => ({
        label: name, type: "property", apply: `${name}: `, detail: describeType(property, schema), info: docOf(property, schema) || undefined,
      }));
      return options.length ? { from: context.pos - word.length, options, validFor: /^[A-Za-z0-9_$-]*$/ } : null;
    }
    const valueMatch = /^( *)(- +)?([A-Za-z0-9_$-]+):\s+([^\s#"']*)$/.exec(before);
    if (!valueMatch) return null;
    const col = valueMatch[1].length + (valueMatch[2]?.length || 0);
    const path = parentPath(linesAbove(context.state.doc, line.number), col, valueMatch[2] ? valueMatch[1].length : null);
    if (!path) return null;
    const options = valuesAt(schema, [...path, valueMatch[3]]).map((value) => ({ label: String(value), type: "enum" }));
    return options.length ? { from: context.pos - valueMatch[4].length, options, validFor: /^[^\s#]*$/ } : null;
  };
}

/** A CodeMirror hover source: a key's description and type from *schema*. */
export function schemaHover(schema) {
  return (view, pos) => {
    const line = view.state.doc.lineAt(pos);
    const parsed = parseLine(line.text);
    if (!parsed.key) return null;
    const start = line.from + parsed.keyCol;
    const end = start + parsed.key.length;
    if (pos < start || pos > end) return null;
    const path = parentPath(linesAbove(view.state.doc, line.number), parsed.keyCol, parsed.dash ? parsed.indent : null);
    if (!path) return null;
    const owners = schemasAt(schema, path).filter((s) => s.properties?.[parsed.key]);
    if (!owners.length) return null;
    const property = owners[0].properties[parsed.key];
    const text = docOf(property, schema);
    const type = describeType(property, schema);
    return {
      pos: start, end, above: true,
      create() {
        const dom = document.createElement("div");
        dom.className = "cm-schema-doc";
        const title = document.createElement("strong");
        title.textContent = `${parsed.key}${type ? ` (${type})` : ""}`;
        dom.append(title, document.createElement("br"), text || "No description.");
        return { dom };
      },
    };
  };
}
