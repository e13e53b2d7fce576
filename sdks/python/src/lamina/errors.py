"""`HttpError`: raise it anywhere in a handler or middleware to answer with a typed error."""

from __future__ import annotations

import json
from typing import Any, Optional


class HttpError(Exception):
    """A typed error the host renders in the configured error format (by default
    ``{"error": {"code", "message", "details", "request-id"}}``) with this status.

    ``details`` is any JSON-serializable value (a list of invalid fields, say)::

        raise HttpError(422, "invalid-todo", "title is required", {"field": "title"})
    """

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def bad_request(cls, message: str, details: Any = None) -> HttpError:
        """400 ``bad-request``."""
        return cls(400, "bad-request", message, details)

    @classmethod
    def unauthorized(cls, message: str, details: Any = None) -> HttpError:
        """401 ``unauthorized``."""
        return cls(401, "unauthorized", message, details)

    @classmethod
    def forbidden(cls, message: str, details: Any = None) -> HttpError:
        """403 ``forbidden``."""
        return cls(403, "forbidden", message, details)

    @classmethod
    def not_found(cls, message: str, details: Any = None) -> HttpError:
        """404 ``not-found``."""
        return cls(404, "not-found", message, details)

    @classmethod
    def conflict(cls, message: str, details: Any = None) -> HttpError:
        """409 ``conflict``."""
        return cls(409, "conflict", message, details)

    @classmethod
    def unprocessable(cls, message: str, details: Any = None) -> HttpError:
        """422 ``unprocessable``."""
        return cls(422, "unprocessable", message, details)

    @classmethod
    def internal(cls, message: str = "internal error", details: Any = None) -> HttpError:
        """500 ``internal``."""
        return cls(500, "internal", message, details)

    def details_json(self) -> Optional[str]:
        """`details` as JSON text, or None when there are none (or they cannot be encoded:
        the host would drop invalid details anyway)."""
        if self.details is None:
            return None
        try:
            return json.dumps(self.details, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError):
            return None
