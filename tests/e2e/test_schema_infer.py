"""The Test tab's schema inference, diff and adoption (schema-infer.js), run in chromium."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Live

pytest.importorskip("playwright")

_RUN = """async () => {
  const m = await import("/ui/static/schema-infer.js");
  const records = [
    { id: 1, name: "a", score: 1, tags: ["x"], geo: { lat: 1.5 } },
    { id: 2, name: null, score: 2.5, tags: [], geo: { lat: 2 }, extra: true },
  ];
  const inferred = m.inferSchema(records);
  const doc = { schemas: { List: { type: "array", items: { $ref: "#/schemas/Item" } },
    Item: { type: "object", required: ["id"],
      properties: { id: { type: "string" }, old: { type: "integer" } } } } };
  const response = { type: "object", properties: { data: { $ref: "#/schemas/List" } } };
  const declared = m.recordSchemaOf(response, "data", doc, false);
  return {
    inferred,
    declared,
    diff: m.schemaDiff(declared, inferred, doc),
    adopted: m.adoptRecordSchema(response, "data", inferred, doc, false),
    docAfter: doc,
    bare: m.adoptRecordSchema(undefined, "", { type: "object" }, doc, true),
    nested: m.adoptRecordSchema(undefined, "$.result.items", { type: "object" }, doc, false),
    steps: m.selectorSteps("$.result[0].rows"),
    none: m.inferSchema([]),
  };
}"""


def test_inference_diff_and_adoption(page_for: Any, live: Live) -> None:
    page = page_for("platform")
    out = page.evaluate(_RUN)
    inferred = out["inferred"]
    props = inferred["properties"]
    assert props["id"] == {"type": "integer"}
    assert props["score"] == {"type": "number"}  # 1 and 2.5: a number
    assert props["name"] == {"type": ["string", "null"]}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["geo"] == {
        "type": "object",
        "properties": {"lat": {"type": "number"}},
        "required": ["lat"],
    }
    # Required: the keys every record has (extra is in one of two).
    assert inferred["required"] == ["id", "name", "score", "tags", "geo"]
    assert out["declared"]["required"] == ["id"]  # followed through two $refs
    rows = {(row["path"], row["kind"]) for row in out["diff"]}
    assert ("id", "type") in rows and ("old", "missing") in rows
    assert ("extra", "added") in rows and ("geo", "added") in rows
    assert ("extra", "required") not in rows  # added already says it
    # Adopting replaces the records' items where the selector points; shared schemas stay.
    data = out["adopted"]["properties"]["data"]
    assert data == {"type": "array", "items": inferred}
    assert out["docAfter"]["schemas"]["Item"]["properties"]["id"] == {"type": "string"}
    assert out["bare"] == {"type": "array", "items": {"type": "object"}}
    nested = out["nested"]["properties"]["result"]["properties"]["items"]
    assert nested == {"type": "array", "items": {"type": "object"}}
    assert out["steps"] == ["result", "0", "rows"]
    assert out["none"] == {}
