"""Request and response bodies of ``/me``, ``/enterprises``, ``/users`` and ``/tokens``.

Request models forbid unknown fields and bound every string. Text may not contain control
characters or lone surrogates: they have no place in a name, and PostgreSQL refuses NUL.
Emails are checked for shape only (something@somewhere, no spaces) and stored lower-case.
Response models never carry a token hash; the token secret appears once, in
:class:`TokenCreated`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from connectory.api.problems import ErrorOut
from connectory.api.schemas.values import WHOLE_NUMBER
from connectory.services.principal import Role

_BAD_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters, lone surrogates


def _clean(value: str) -> str:
    if any(unicodedata.category(char) in _BAD_CATEGORIES for char in value):
        raise ValueError("must not contain control characters")
    return value


def _clean_name(value: str) -> str:
    value = _clean(value).strip()
    if not value:
        raise ValueError("must not be blank")
    return value


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _clean_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("must look like name@example.com (one @, no spaces)")
    return _clean(value).lower()


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they are UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# The patterns say for clients what the validators check (and say in words): no control
# characters (C0, DEL, C1) anywhere, not blank, one @ in an email.
_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"
_TEXT_PATTERN = f"^[^{_CONTROL}]*$"
_NAME_PATTERN = f"^[^{_CONTROL}]*[^\\s{_CONTROL}][^{_CONTROL}]*$"
_EMAIL_PATTERN = f"^[^@\\s{_CONTROL}]+@[^@\\s{_CONTROL}]+$"

#: A required display name: 1-200 characters, not blank, no control characters.
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_clean_name),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200, "pattern": _NAME_PATTERN}),
]
#: An optional label: up to 200 characters, no control characters.
Label = Annotated[
    str,
    StringConstraints(max_length=200),
    AfterValidator(_clean),
    WithJsonSchema({"type": "string", "maxLength": 200, "pattern": _TEXT_PATTERN}),
]
#: An email: something@somewhere without spaces; stored lower-case.
Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=320),
    AfterValidator(_clean_email),
    WithJsonSchema({"type": "string", "minLength": 3, "maxLength": 320, "pattern": _EMAIL_PATTERN}),
]
#: Search text for lists.
SearchText = Annotated[
    str,
    StringConstraints(max_length=200),
    AfterValidator(_clean),
    WithJsonSchema({"type": "string", "maxLength": 200, "pattern": _TEXT_PATTERN}),
]
#: An object id in a body or query (unknown or foreign ids answer 404).
IdRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]
#: A timestamp, always with its UTC offset.
Timestamp = Annotated[datetime, AfterValidator(_as_utc)]


class _Request(BaseModel):
    # strict: no coercion the schema does not promise (true is not an integer, "1" not a bool).
    model_config = ConfigDict(extra="forbid", strict=True)


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class EnterpriseCreate(_Request):
    """A new enterprise."""

    name: Name = Field(description="Unique among live enterprises (ignoring case).")


class EnterpriseUpdate(_Request):
    """Changes to an enterprise; omitted or null fields stay as they are."""

    name: Name | None = None


class EnterprisePublic(_Public):
    """An enterprise (tenant)."""

    id: str
    name: str
    created_at: Timestamp


class UserCreate(_Request):
    """A new user."""

    email: Email
    name: Label = ""
    role: Role
    enterprise_id: IdRef | None = Field(
        default=None,
        description="Required for enterprise_admin and viewer (enterprise admins may leave it "
        "out to mean their own); must be left out for platform_admin.",
    )
    sdk_access: bool = Field(
        default=False, description="Connector SDK access; enterprise admins only."
    )


class UserUpdate(_Request):
    """Changes to a user; omitted or null fields stay as they are."""

    email: Email | None = None
    name: Label | None = None
    role: Role | None = None
    sdk_access: bool | None = None


class UserPublic(_Public):
    """A user."""

    id: str
    email: str
    name: str
    role: Role
    enterprise_id: str | None
    sdk_access: bool
    created_at: Timestamp


class MePublic(BaseModel):
    """The caller: their user, their enterprise and what they may build."""

    user: UserPublic
    enterprise: EnterprisePublic | None = Field(description="None for platform admins.")
    can_build_connectors: bool = Field(
        description="Platform admins, and enterprise admins with connector SDK access."
    )


class TokenCreate(_Request):
    """A new API token."""

    name: Label = Field(default="", description="What the token is for.")
    expires_in_days: Annotated[int, Field(ge=1, le=3650), WHOLE_NUMBER] | None = Field(
        default=None, description="Days until it expires; never when omitted."
    )


class TokenPublic(_Public):
    """An API token's metadata (never its secret or hash)."""

    id: str
    user_id: str
    name: str
    prefix: str = Field(description="The secret's first characters, to recognise it.")
    created_at: Timestamp
    last_used_at: Timestamp | None
    expires_at: Timestamp | None
    revoked_at: Timestamp | None


class TokenCreated(TokenPublic):
    """A new token, with its secret: shown this once, store it now."""

    secret: str = Field(description="Send as Authorization: Bearer <secret>. Not shown again.")


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error statuses an operation can answer besides the common ones."""
    descriptions = {
        403: "The caller can see the object but their role does not allow this.",
        404: "No such object, or not visible to the caller (other enterprises' objects too).",
        409: "The request clashes with the current state.",
    }
    return {status: {"model": ErrorOut, "description": descriptions[status]} for status in statuses}
