"""The one domain-error type: a rule refuses a request by raising one of these, anywhere below a view.

The kind says what went wrong (not found, conflict, invalid, forbidden); ``field`` names the input at fault.
One handler (http_errors.py) turns every one of them into the documented JSON error body, so no view
translates errors by hand. No HTTP here beyond the status each kind maps to.
"""

from typing import ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    error: ClassVar[str] = "bad_request"

    def __init__(
        self, message: str, field: str | None = None, *, error: str | None = None, problem: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        #: What is wrong with ``field``, when it reads better than the message (defaults to the message).
        self.problem = problem or message
        # A more precise code than the kind's, e.g. "idempotency_conflict"; the status stays the kind's.
        self.code = error or self.error


class NotFound(DomainError):
    status = 404
    error = "not_found"


class Conflict(DomainError):
    """The request is valid but the thing is not in a state that allows it."""

    status = 409
    error = "conflict"


class Invalid(DomainError):
    """A field's value breaks a rule that the request model alone cannot check."""

    status = 422
    error = "validation_failed"


class Forbidden(DomainError):
    status = 403
    error = "forbidden"


class Unavailable(DomainError):
    """Something the request needs (another service, a setting) is not there now; retrying later may work."""

    status = 503
    error = "unavailable"
