"""The API's errors and their HTTP answers, in one place, for every resolver (api, lead_conversion).

A view raises what went wrong (``NotFound``, ``StateConflict``, ...); ``register`` installs the exception
handlers that turn it into a status and a ``{"message": ...}`` body. Errors raised by the layer's
other modules are mapped here too: the token checks (``crmsync.tokens``: 401, 403), a lead that
cannot be converted (``LeadError``: its own status), a conversion already under way (409), and
Powertools' validation (``validation_errors``: 422, or 500 when a *response* failed it).

The bodies are what the API has always answered: ``{"message": ...}`` for an error a view raised
(a 404 says only "not found": it never echoes an id back), and ``{"statusCode", "message", "detail"}``
for a 422. A value the layer refuses after parsing (a secret a connection lacks, a resolution value
the field cannot hold) is a 422 of that same shape: ``ConfigNotReady`` and ``InvalidResolution``
subclass Powertools' ``RequestValidationError``. The request screen's refusals (413, 401/403 before
routing, 429, 415/400) are answered by ``api.admit`` before a resolver runs, as
``{"statusCode", "message"}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from crmsync import errors
from crmsync.conflicts import ConflictError
from crmsync.leads import LeadError
from crmsync.linking import LinkError
from crmsync.tokens import Forbidden, Unauthorized

logger = Logger(child=True)

__all__ = [
    "ApiError",
    "BadRequest",
    "Forbidden",
    "NotFound",
    "StateConflict",
    "Unauthorized",
    "register",
    "validation_errors",
]


class ApiError(Exception):
    """An error a view raises on purpose: its class says the status, ``public_message`` the body."""

    status: ClassVar[int] = 500

    @property
    def public_message(self) -> str:
        return str(self)


class BadRequest(ApiError):
    """The request is well-formed but cannot be acted on as given (e.g. a tampered cursor)."""

    status = 400


class NotFound(ApiError, errors.NotFound):
    """What the path names does not exist (or is not this tenant's). The body never repeats the id.

    The domain's ``crmsync.errors.NotFound`` (raised by linking, conflicts, deletes, health, sync now
    when what was named is gone) is answered the same way.
    """

    status = 404

    @property
    def public_message(self) -> str:
        return "not found"

    def __str__(self) -> str:  # KeyError's str() is the repr of its argument
        return str(self.args[0]) if self.args else ""


class StateConflict(ApiError):
    """The request collides with the current state (stale version, not linked, open conflict, ...)."""

    status = 409


MAX_LISTED_ERRORS = 3


def _error_message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg") or error.get("type") or "invalid")
    reason = (error.get("ctx") or {}).get("error")
    if error.get("type") == "json_invalid" and isinstance(reason, str):
        message = f"{message}: {reason}"  # what json.loads said, e.g. "Expecting value"
    return message


def validation_errors(errors: Iterable[Mapping[str, Any]]) -> tuple[int, dict[str, Any]]:
    """Status and body for what Powertools' validation found, as ``(status, body)``.

    Powertools answers a request that fails validation with ``{"detail": [{"loc", "type"}]}``: no
    message, and short of the ``msg`` its own OpenAPI document promises (``HTTPValidationError``).
    This body keeps the documented shape (``loc``, ``msg``, ``type`` per error; never the input
    value) and adds one readable ``message``. Powertools raises the same exception when a *response*
    does not match its declared model: that is a server fault, so it is a 500, never blamed on the
    caller as a 422.
    """
    detail = [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            "msg": _error_message(error),
            "type": str(error.get("type") or "value_error"),
        }
        for error in errors
    ]
    if any(d["loc"][:1] == ["response"] for d in detail):
        return 500, {"statusCode": 500, "message": "internal error: the response failed validation"}
    listed = "; ".join(
        f"{'.'.join(str(part) for part in d['loc']) or 'request'}: {d['msg']}"
        for d in detail[:MAX_LISTED_ERRORS]
    )
    more = len(detail) - MAX_LISTED_ERRORS
    message = f"invalid request: {listed or 'the request failed validation'}" + (
        f" (and {more} more)" if more > 0 else ""
    )
    return 422, {"statusCode": 422, "message": message, "detail": detail}


IN_PROGRESS = "this lead is being converted right now; retry to get the result"


def error_response(status: int, message: str) -> Response[dict[str, Any]]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body={"message": message}
    )


def _api_error(exc: ApiError) -> Response[dict[str, Any]]:
    return error_response(exc.status, exc.public_message)


def _invalid_request(exc: RequestValidationError) -> Response[dict[str, Any]]:
    status, body = validation_errors(exc.errors())
    if status >= 500:
        logger.error("response failed validation", extra={"errors": [e.get("loc") for e in exc.errors()]})
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


HANDLERS: dict[type[Exception], Callable[[Any], Response[Any]]] = {
    RequestValidationError: _invalid_request,
    ApiError: _api_error,
    errors.NotFound: lambda exc: error_response(404, "not found"),
    errors.InvalidCursor: lambda exc: error_response(400, "invalid cursor"),
    LinkError: lambda exc: error_response(409, str(exc)),
    ConflictError: lambda exc: error_response(409, str(exc)),
    Unauthorized: lambda exc: error_response(401, str(exc)),
    Forbidden: lambda exc: error_response(403, str(exc)),
    LeadError: lambda exc: error_response(exc.status, str(exc)),
    IdempotencyAlreadyInProgressError: lambda exc: error_response(409, IN_PROGRESS),
}
"""Exception class -> its answer. Powertools picks the handler of the nearest class in the MRO, so
``ApiError`` covers its subclasses and ``RequestValidationError`` the layer's 422s built on it
(``ConfigNotReady``, ``InvalidResolution``)."""


def register(app: ApiGatewayResolver) -> None:
    """Install the shared exception handlers on a resolver."""
    for exc_class, handler in HANDLERS.items():
        app.exception_handler(exc_class)(handler)
