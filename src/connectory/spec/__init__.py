"""The connector format: pydantic models (the one source of truth), loading and validation."""

from connectory.spec.auth import (
    ApiKeyAuthSpec,
    AuthSpec,
    BasicAuthSpec,
    BearerAuthSpec,
    CombinedAuthSpec,
    CustomAuthSpec,
    LoginRequestSpec,
    NoAuthSpec,
    OAuth2AuthSpec,
)
from connectory.spec.connector import CONNECTOR_TYPES, ConnectorSpec, slugify
from connectory.spec.fields import InputFieldSpec
from connectory.spec.loader import (
    ValidationReport,
    check_connector,
    check_connector_data,
    check_connector_text,
    load_connector,
    load_connector_data,
    load_connector_text,
)
from connectory.spec.operations import OperationSpec, ParameterSpec, RequestBodySpec
from connectory.spec.pagination import (
    CursorPaginationSpec,
    LinkHeaderPaginationSpec,
    NextUrlPaginationSpec,
    OffsetPaginationSpec,
    PageNumberPaginationSpec,
    PaginationSpec,
)
from connectory.spec.resilience import ResilienceOverrideSpec, ResilienceSpec
from connectory.spec.schema_export import connector_json_schema
from connectory.spec.selectors import parse_selector

__all__ = [
    "CONNECTOR_TYPES",
    "ApiKeyAuthSpec",
    "AuthSpec",
    "BasicAuthSpec",
    "BearerAuthSpec",
    "CombinedAuthSpec",
    "ConnectorSpec",
    "CursorPaginationSpec",
    "CustomAuthSpec",
    "InputFieldSpec",
    "LinkHeaderPaginationSpec",
    "LoginRequestSpec",
    "NextUrlPaginationSpec",
    "NoAuthSpec",
    "OAuth2AuthSpec",
    "OffsetPaginationSpec",
    "OperationSpec",
    "PageNumberPaginationSpec",
    "PaginationSpec",
    "ParameterSpec",
    "RequestBodySpec",
    "ResilienceOverrideSpec",
    "ResilienceSpec",
    "ValidationReport",
    "check_connector",
    "check_connector_data",
    "check_connector_text",
    "connector_json_schema",
    "load_connector",
    "load_connector_data",
    "load_connector_text",
    "parse_selector",
    "slugify",
]
