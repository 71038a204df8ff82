// A JSON Schema inferred from records, the difference with a declared one, and the record part
// of an operation's response schema (where the record selector points).

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value; // string, boolean, object
}

function typeList(types) {
  // An integer seen beside a number is a number: 1 and 1.5 are both numbers.
  if (types.has("integer") && types.has("number")) types.delete("integer");
  const list = [...types].sort((a, b) => (a === "null") - (b === "null") || a.localeCompare(b));
  return list.length === 1 ? list[0] : list;
}

/**
 * Infer a JSON Schema from sample values: each property's type(s), `required` for the keys every
 * object has, nested objects and arrays (array items merged). No samples: an empty schema.
 */
export function inferSchema(values) {
  const types = new Set(values.map(typeOf));
  if (!types.size) return {};
  const schema = { type: typeList(new Set(types)) };
  const objects = values.filter((v) => typeOf(v) === "object");
  if (objects.length) {
    const keys = [];
    for (const object of objects) for (const key of Object.keys(object)) if (!keys.includes(key)) keys.push(key);
    schema.properties = Object.fromEntries(keys.map((key) =>
      [key, inferSchema(objects.filter((o) => key in o).map((o) => o[key]))]));
    const required = keys.filter((key) => objects.every((o) => key in o));
    if (required.length) schema.required = required;
  }
  const arrays = values.filter(Array.isArray);
  if (arrays.length) schema.items = inferSchema(arrays.flat());
  return schema;
}

/** Follow a local `$ref` ("#/schemas/Name", "#/components/..."): into the document, else as is. */
export function resolveRef(schema, doc, seen = new Set()) {
  if (!schema || typeof schema !== "object" || typeof schema.$ref !== "string") return schema;
  const ref = schema.$ref;
  if (!ref.startsWith("#/") || seen.has(ref)) return schema;
  let node = doc;
  for (const part of ref.slice(2).split("/")) node = node?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  return node && typeof node === "object" ? resolveRef(node, doc, new Set([...seen, ref])) : schema;
}

/** The steps of a record selector ("data", "result.items", "$.result[0].rows"). */
export function selectorSteps(selector) {
  if (!selector) return [];
  return selector.replace(/^\$\.?/, "").replace(/\[(\d+)\]/g, ".$1").split(".").filter(Boolean);
}

function typesOf(schema) {
  const type = schema?.type;
  if (type === undefined) return null; // any
  const list = Array.isArray(type) ? type : [type];
  // "number" takes integers too, so an inferred integer fits a declared number.
  return new Set(list.flatMap((t) => (t === "number" ? ["number", "integer"] : [t])));
}

/**
 * The schema of one record inside a response schema, following the record selector
 * (properties, then the array's items). Null when the response schema does not say.
 */
export function recordSchemaOf(responseSchema, selector, doc, bodyIsList) {
  let node = resolveRef(responseSchema, doc);
  if (!node || typeof node !== "object") return null;
  for (const step of selectorSteps(selector)) {
    node = /^\d+$/.test(step) ? resolveRef(node.items, doc) : resolveRef(node.properties?.[step], doc);
    if (!node) return null;
  }
  const listed = selector ? typesOf(node)?.has("array") || "items" in node : bodyIsList;
  return listed ? resolveRef(node.items, doc) ?? null : node;
}

/**
 * What differs between the declared record schema and the inferred one, as rows
 * `{ path, kind, declared, inferred }` with kind "added" (only in the records), "missing" (declared,
 * not seen), "type" (types differ) or "required" (required in one, not the other).
 */
export function schemaDiff(declared, inferred, doc, path = "") {
  const rows = [];
  declared = resolveRef(declared, doc) || {};
  const declaredTypes = typesOf(declared);
  const inferredTypes = typesOf(inferred) || new Set();
  const fits = !declaredTypes || [...inferredTypes].every((t) => declaredTypes.has(t));
  if (!fits) rows.push({ path: path || "(record)", kind: "type", declared: declared.type, inferred: inferred.type });
  const declaredProps = declared.properties || {};
  const inferredProps = inferred.properties || {};
  const declaredRequired = new Set(declared.required || []);
  const inferredRequired = new Set(inferred.required || []);
  for (const key of Object.keys(inferredProps)) {
    const at = path ? `${path}.${key}` : key;
    if (!(key in declaredProps)) { rows.push({ path: at, kind: "added", declared: null, inferred: inferredProps[key].type }); continue; }
    rows.push(...schemaDiff(declaredProps[key], inferredProps[key], doc, at));
    // A schema that declares no required list at all differs once (below), not per field.
    if (declared.required && declaredRequired.has(key) !== inferredRequired.has(key)) {
      rows.push({ path: at, kind: "required", declared: declaredRequired.has(key) ? "required" : "optional",
        inferred: inferredRequired.has(key) ? "in every record" : "not in every record" });
    }
  }
  const requiredSeen = [...inferredRequired].filter((key) => key in declaredProps);
  if (!declared.required && requiredSeen.length) {
    rows.push({ path: path || "(record)", kind: "required", declared: "none required", inferred: `in every record: ${requiredSeen.join(", ")}` });
  }
  if (Object.keys(inferredProps).length || inferred.type === "object") {
    for (const key of Object.keys(declaredProps)) {
      if (!(key in inferredProps)) rows.push({ path: path ? `${path}.${key}` : key, kind: "missing", declared: resolveRef(declaredProps[key], doc)?.type ?? "any", inferred: null });
    }
  }
  if (inferred.items && (declared.items || declaredTypes?.has("array"))) {
    rows.push(...schemaDiff(declared.items || {}, inferred.items, doc, `${path || "(record)"}[]`));
  }
  return rows;
}

/**
 * The operation's response schema with its record part replaced by *recordSchema*: the path of
 * the record selector is kept (or created) as objects, and the records' array takes the schema
 * as its items. A `$ref` on that path is inlined there, so shared schemas stay as they are.
 */
export function adoptRecordSchema(responseSchema, selector, recordSchema, doc, bodyIsList) {
  const steps = selectorSteps(selector);
  if (!steps.length) return bodyIsList ? { type: "array", items: recordSchema } : recordSchema;
  const base = resolveRef(responseSchema, doc);
  const root = structuredClone(base && typeof base === "object" ? base : {});
  let node = root;
  for (const step of steps) {
    if (/^\d+$/.test(step)) {
      node.type ??= "array";
      node.items = structuredClone(resolveRef(node.items, doc) || {});
      node = node.items;
      continue;
    }
    node.type ??= "object";
    node.properties ??= {};
    node.properties[step] = structuredClone(resolveRef(node.properties[step], doc) || {});
    node = node.properties[step];
  }
  for (const key of Object.keys(node)) delete node[key];
  Object.assign(node, { type: "array", items: recordSchema });
  return root;
}
