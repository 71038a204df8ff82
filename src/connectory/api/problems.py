"""Errors as HTTP responses: one JSON shape for every error, and the status for each class.

Every error body is::

    {"status": 404, "code": "not_found", "detail": "connector ... not found",
     "issues": [{"loc": ["body", "name"], "message": "..."}],          # field problems
     "problems": [{"file": ..., "line": ..., "path": ..., "message": ...}],  # connector problems
     "script": {"file": ..., "line": ..., "stack": [...], "logs": [...]}}    # JavaScript failed

A client mistake never becomes a 500: unexpected exceptions are logged with their traceback and
answered with a generic 500 that reveals nothing.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from connectory.errors import (
    AmbiguousMatch,
    AuthError,
    CircuitOpen,
    CollectionNotFound,
    ConfigurationError,
    Conflict,
    ConnectoryError,
    CredentialsError,
    DecryptionError,
    EgressDenied,
    InputError,
    InternalError,
    InvalidRequest,
    InvalidURL,
    NotAuthenticated,
    NotFound,
    NotSupported,
    OperationNotFound,
    PaginationError,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RecordInvalid,
    RecordNotFound,
    ResponseError,
    ScriptError,
    ScriptLimitError,
    SpecError,
    StorageUnavailable,
    TemplateError,
    TransportError,
    UpstreamError,
    WebhookRejected,
    WebhookUnstorable,
    new_error_id,
)
from connectory.logs import involves_database, traceback_without_messages

logger = logging.getLogger("connectory.api")

_STATUS: list[tuple[type[ConnectoryError], int, str]] = [
    (NotAuthenticated, 401, "not_authenticated"),
    (NotFound, 404, "not_found"),
    (OperationNotFound, 404, "not_found"),
    (CollectionNotFound, 404, "not_found"),
    (RecordNotFound, 404, "record_not_found"),
    (AmbiguousMatch, 409, "ambiguous_match"),
    (NotSupported, 400, "not_supported"),
    (RecordInvalid, 422, "invalid_record"),
    (PermissionDenied, 403, "forbidden"),
    (Conflict, 409, "conflict"),
    (PayloadTooLarge, 413, "payload_too_large"),
    (WebhookRejected, 401, "webhook_rejected"),
    (SpecError, 422, "invalid_connector"),
    (InvalidRequest, 422, "invalid_request"),
    (InputError, 422, "invalid_parameters"),
    (CredentialsError, 422, "invalid_credentials"),
    (TemplateError, 422, "invalid_template"),
    (InvalidURL, 422, "invalid_url"),
    (ScriptLimitError, 422, "script_limit"),
    (ScriptError, 422, "script_error"),
    (RateLimited, 429, "rate_limited"),
    (CircuitOpen, 503, "circuit_open"),
    (StorageUnavailable, 503, "storage_unavailable"),
    # Not a 5xx: a sender retries those, and the database would refuse the retry too.
    (WebhookUnstorable, 422, "webhook_unstorable"),
    (AuthError, 502, "upstream_auth_failed"),
    (UpstreamError, 502, "upstream_error"),
    # The upstream answered, but not usably (not JSON, too large, looping pages): its doing.
    (ResponseError, 502, "upstream_response_unusable"),
    (PaginationError, 502, "pagination_failed"),
    (TransportError, 504, "upstream_unreachable"),
    (EgressDenied, 502, "egress_denied"),
    (DecryptionError, 500, "secret_unreadable"),
    (ConfigurationError, 500, "server_misconfigured"),
    (InternalError, 500, "internal_error"),
]


class IssueOut(BaseModel):
    """A field problem in a request."""

    loc: list[str | int]
    message: str


class ProblemOut(BaseModel):
    """A problem in a connector definition."""

    severity: str
    file: str | None
    line: int | None
    column: int | None
    path: str
    message: str


class LogLineOut(BaseModel):
    """A line connector JavaScript logged."""

    level: str
    message: str
    location: str | None


class ScriptErrorOut(BaseModel):
    """Where connector JavaScript failed: its file and line, its stack, what it logged."""

    message: str
    file: str | None
    line: int | None
    column: int | None
    stack: list[str]
    logs: list[LogLineOut]


class ErrorOut(BaseModel):
    """The body of every error response."""

    status: int
    code: str
    detail: str
    issues: list[IssueOut] = []
    problems: list[ProblemOut] = []
    script: ScriptErrorOut | None = None


def status_of(error: ConnectoryError) -> tuple[int, str]:
    """Return the HTTP status and error code for *error*."""
    for cls, status, code in _STATUS:
        if isinstance(error, cls):
            return status, code
    return 400, "bad_request"


def error_response(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    """Build an error response in the common shape."""
    body = ErrorOut(status=status, code=code, detail=detail, **extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def connectory_error_response(error: ConnectoryError) -> JSONResponse:
    """The response to *error*: its status, the common shape, and Retry-After when it has one."""
    status, code = status_of(error)
    extra: dict[str, Any] = {}
    if isinstance(error, SpecError):
        extra["problems"] = [p.to_dict() for p in error.problems]
    if isinstance(error, InvalidRequest):
        extra["issues"] = [{"loc": list(i.location), "message": i.message} for i in error.issues]
        extra["problems"] = [p.to_dict() for p in error.problems]
    if isinstance(error, RecordInvalid):
        extra["issues"] = [
            {"loc": ["body", "fields", name], "message": message} for name, message in error.issues
        ]
    if isinstance(error, ScriptError):
        extra["script"] = error.to_dict()
    retry_after = getattr(error, "retry_after", None)
    response = error_response(status, code, str(error), **extra)
    if isinstance(retry_after, int | float) and retry_after > 0:
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
    return response


def log_unexpected(what: str) -> str:
    """Log the exception being handled (with its traceback) under a new error id; the id.

    Call it inside an ``except`` block. The id is what an operator greps the logs for when
    a user quotes the 500 they got (:func:`unexpected_error_response`). A database error (or
    one raised from it) is logged by type and traceback only, as the intake's route look-up
    logs one: its message, and its driver's, may quote the statement's values.
    """
    error_id = new_error_id()
    error = sys.exc_info()[1]
    if error is not None and involves_database(error):
        logger.error(
            "unexpected error while %s (error id %s): %s",
            what,
            error_id,
            traceback_without_messages(error),
        )
    else:
        logger.exception("unexpected error while %s (error id %s)", what, error_id)
    return error_id


def unexpected_error_response(error_id: str) -> JSONResponse:
    """The generic 500 of an unexpected error logged under *error_id*: it reveals nothing else."""
    detail = f"an unexpected error occurred (error id {error_id}); it was logged"
    return connectory_error_response(InternalError(detail, error_id))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the common shape.

    Unexpected exceptions are not among them: a FastAPI ``Exception`` handler runs outside
    every middleware, without the request's ids, and the server then logs the traceback again.
    :class:`~connectory.api.unexpected_errors.UnexpectedErrorMiddleware`, added just inside
    :class:`~connectory.api.observability.ObservabilityMiddleware`, answers them.
    """

    @app.exception_handler(ConnectoryError)
    async def _connectory_error(_request: Request, error: ConnectoryError) -> JSONResponse:
        return connectory_error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        issues = [
            {
                "loc": [str(part) if not isinstance(part, int) else part for part in e["loc"]],
                "message": _readable(e),
            }
            for e in error.errors()
        ]
        detail = "; ".join(f"{'.'.join(map(str, i['loc']))}: {i['message']}" for i in issues[:5])
        return error_response(422, "invalid_request", detail or "invalid request", issues=issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:
            # FastAPI's own answer to a body it cannot decode (bytes that are not UTF-8
            # JSON): a client mistake like any other invalid body, so 422 with its location.
            return error_response(
                422,
                "invalid_request",
                "the request body is not valid JSON (UTF-8); send a JSON object",
                issues=[{"loc": ["body"], "message": "not valid JSON"}],
            )
        if error.status_code == 405:
            return _method_not_allowed(request)
        codes = {404: "not_found", 401: "not_authenticated"}
        response = error_response(
            error.status_code, codes.get(error.status_code, "http_error"), str(error.detail)
        )
        response.headers.update(error.headers or {})
        return response


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _method_not_allowed(request: Request) -> JSONResponse:
    """A 405 whose ``Allow`` lists every method of the path (RFC 9110 requires the header).

    Starlette's own 405 names the methods of the first route matching the path only, and a
    path served by several routes (GET and POST of ``/connections``) has more.
    """
    # Ask the router itself, method by method: included routers nest routes in ways that only
    # their own matching knows.
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
    listed = ", ".join(allowed)
    response = error_response(
        405,
        "method_not_allowed",
        f"{request.method} is not allowed on {request.url.path[:200]}; allowed: {listed}",
    )
    response.headers["Allow"] = listed
    return response


def _readable(error: Any) -> str:
    if error.get("type") == "json_invalid":
        # FastAPI's own message is "JSON decode error"; the parser's says what is wrong.
        reason = (error.get("ctx") or {}).get("error")
        return f"not valid JSON: {reason}" if reason else "not valid JSON"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")
