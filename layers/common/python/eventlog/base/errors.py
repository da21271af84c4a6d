"""Domain errors. Handlers map each to an HTTP status; the core never does."""

from typing import Any


class EventlogError(Exception):
    code = "ERROR"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInputError(EventlogError):
    code = "VALIDATION_ERROR"


class NotFoundError(EventlogError):
    code = "NOT_FOUND"


class ConflictError(EventlogError):
    code = "CONFLICT"


class IdempotencyKeyReusedError(EventlogError):
    code = "IDEMPOTENCY_KEY_REUSED"


class PayloadTooLargeError(EventlogError):
    code = "PAYLOAD_TOO_LARGE"


class AuthenticationError(EventlogError):
    """The credential is missing, unknown, revoked, expired or forged."""

    code = "UNAUTHORIZED"
