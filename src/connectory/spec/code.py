"""Connector JavaScript: references to code, hooks, and the ``javascript`` section's limits.

Every piece of connector code is referenced the same way, with a :class:`CodeRefSpec`::

    hooks:
      pre_request:
        - file: hooks/sign.js          # export default async function (ctx) { ... }
          credentials: [api_secret]    # the only credential fields ctx.credentials holds
      post_response:
        - hooks/unwrap.js              # shorthand: the file's default export
    operations:
      - name: item_with_owner
        implementation: javascript
        code: methods/item_with_owner.js#withOwner   # shorthand: file#export

Hooks live in ``hooks/``, methods in ``methods/``. Collections and events reference their
JavaScript methods with the same type, so one checker and one runner serve them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import Field, GetJsonSchemaHandler, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from connectory.spec.base import SpecModel

#: Folders connector code may live in.
CODE_FOLDERS = ("hooks/", "methods/")

#: A code file's path: a folder above, then a relative ``.js`` path without ``..``.
CODE_FILE_PATTERN = re.compile(
    r"(hooks|methods)/[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*\.js"
)
_EXPORT_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")

#: Most JavaScript time (seconds) a connector may give one invocation; the engine may cap lower.
MAX_TIME_LIMIT = 60.0
#: Most memory (MiB) a connector may give one engine instance; the engine may cap lower.
MAX_MEMORY_LIMIT = 1024
#: Most apiClient calls a connector may allow in one invocation.
MAX_API_CALLS = 10_000


class CodeRefSpec(SpecModel):
    """A reference to one function of connector code: a file, an export, its secrets.

    Written as a mapping, or as a string ``hooks/sign.js`` (the default export) or
    ``methods/items.js#listItems`` (a named export).
    """

    file: str = Field(
        description="The code file, e.g. hooks/sign.js or methods/items.js (relative to the "
        "connector folder)."
    )
    export: str = Field(
        default="default",
        description="The export to call: default (export default ...) or a name "
        "(export function name ...).",
    )
    credentials: list[str] = Field(
        default_factory=list,
        description="Credential fields (credential_schema) the code may read as "
        "ctx.credentials; no other field is present at run time.",
    )
    connector_parameters: list[str] = Field(
        default_factory=list,
        description="Sensitive connector parameters the code may read; the others are always "
        "in ctx.connectorParameters.",
    )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The shorthand string is valid wherever a reference is (editors must accept it).
        mapping = handler.resolve_ref_schema(handler(core_schema))
        shorthand = {
            "type": "string",
            "pattern": r"^(hooks|methods)/[^#]+\.js(#[A-Za-z_$][A-Za-z0-9_$]*)?$",
            "description": "file, or file#export",
        }
        return {"anyOf": [shorthand, mapping]}

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            file, _, export = data.partition("#")
            return {"file": file, "export": export} if export else {"file": file}
        return data

    @field_validator("file")
    @classmethod
    def _check_file(cls, value: str) -> str:
        if not CODE_FILE_PATTERN.fullmatch(value) or ".." in value.split("/"):
            raise ValueError(
                f"'{value[:80]}' is not a code file; write a relative path like hooks/sign.js "
                "or methods/items.js (hooks/ or methods/, ending in .js)"
            )
        return value

    @field_validator("export")
    @classmethod
    def _check_export(cls, value: str) -> str:
        if not _EXPORT_NAME.fullmatch(value):
            raise ValueError(
                f"'{value[:80]}' is not an export name; write default or a JavaScript identifier"
            )
        return value

    @property
    def label(self) -> str:
        """``hooks/sign.js`` or ``methods/items.js#listItems``, as written in short form."""
        return self.file if self.export == "default" else f"{self.file}#{self.export}"

    @property
    def has_secret_access(self) -> bool:
        """Whether any credential or sensitive connector parameter is declared."""
        return bool(self.credentials or self.connector_parameters)


class HooksSpec(SpecModel):
    """Pre-request and post-response hooks; global ones run before an operation's own."""

    pre_request: list[CodeRefSpec] = Field(
        default_factory=list,
        description="Called with a copy of the prepared request (before auth); returns changes, "
        "or {response: ...} to answer without calling the API.",
    )
    post_response: list[CodeRefSpec] = Field(
        default_factory=list,
        description="Called with the response before it is decoded, checked, paginated and its "
        "records extracted; may change status, headers and body.",
    )

    def refs(self) -> Iterator[tuple[str, int, CodeRefSpec]]:
        """Yield ``(kind, index, ref)`` for every hook, pre-request first."""
        for index, ref in enumerate(self.pre_request):
            yield "pre_request", index, ref
        for index, ref in enumerate(self.post_response):
            yield "post_response", index, ref

    @property
    def empty(self) -> bool:
        """True when no hook is declared."""
        return not self.pre_request and not self.post_response


class JavaScriptSpec(SpecModel):
    """Limits and permissions of the connector's JavaScript (the platform may cap them lower)."""

    time_limit: float = Field(
        default=5,
        gt=0,
        le=MAX_TIME_LIMIT,
        description="Seconds of JavaScript per invocation (timers included; time awaiting "
        "ctx.apiClient is not counted: each request has the resilience timeout).",
    )
    memory_limit: int = Field(
        default=64,
        ge=16,
        le=MAX_MEMORY_LIMIT,
        description="MiB of JavaScript heap per engine instance.",
    )
    max_api_calls: int = Field(
        default=1000,
        ge=1,
        le=MAX_API_CALLS,
        description="ctx.apiClient requests one invocation may make.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins besides the base_url's that ctx.apiClient may call, e.g. "
        "https://auth.example.com.",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
                raise ValueError(
                    f"'{origin[:80]}' is not an origin; write scheme://host[:port] without a "
                    "path, e.g. https://auth.example.com"
                )
        return value


def code_files(files: dict[str, str] | None) -> dict[str, str]:
    """The code files among a connector's *files* (``hooks/*.js`` and ``methods/*.js``)."""
    return {
        path: text
        for path, text in (files or {}).items()
        if path.startswith(CODE_FOLDERS) and path.endswith(".js")
    }
