"""Shared base for every connector spec model, and value types several sections use."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

#: An HTTP field name (RFC 9110 "token"): what a header's name may be made of.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class SpecModel(BaseModel):
    """Base of the connector format's models: unknown fields are errors, names are as written."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        str_strip_whitespace=False,
        validate_default=False,
        use_enum_values=True,
        # Build a model's core schema and validator on first use, not at import: the
        # connector's validator is then built once, for the whole document, instead of
        # one validator per section model at import time as well (~26 M instructions
        # fewer before a CLI call's first request; docs/benchmarks.md, "the spec models").
        defer_build=True,
    )


def check_header_names(headers: dict[str, str]) -> dict[str, str]:
    """Refuse header names that no HTTP client can send (spaces, colons, non-ASCII)."""
    for name in headers:
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a valid HTTP header name: use letters, digits and - "
                "(e.g. X-Tenant), without spaces or a colon"
            )
    return headers


#: Header names and their (templated) values, names checked as HTTP field names.
HeaderMap = Annotated[dict[str, str], AfterValidator(check_header_names)]
