"""One error tree for the whole project.

The core and the pipeline raise these; only ``adapters/http`` maps them to status codes and only the
CLI maps them to exit codes. Every error names what was wrong so a caller can fix it.
"""

from __future__ import annotations


class ZaslonError(Exception):
    """Base of every error Zaslon raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str]:
        out = {"error": type(self).__name__, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        return out


class InvalidInput(ZaslonError):
    """The input is malformed or violates a rule (HTTP 422, exit code 2)."""


class NotFound(ZaslonError):
    """A referenced object does not exist (HTTP 404)."""


class Conflict(ZaslonError):
    """The request contradicts stored state, e.g. a different body under a known id (HTTP 409)."""


class Unauthenticated(ZaslonError):
    """No credentials or wrong credentials (HTTP 401)."""


class Forbidden(ZaslonError):
    """Authenticated, but not allowed to do this or to see that (HTTP 403)."""


class PayloadTooLarge(ZaslonError):
    """The request body exceeds the configured limit (HTTP 413)."""


class Unavailable(ZaslonError):
    """The store is busy or unreachable; nothing was stored and the request may be retried (HTTP 503)."""


class RateLimited(ZaslonError):
    """This API key sent more requests than its rate allows; retry after ``retry_after`` seconds (HTTP 429)."""

    def __init__(self, message: str, *, retry_after: float, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after
