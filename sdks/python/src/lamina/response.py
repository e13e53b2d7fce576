"""`Response`: what a handler returns (or a middleware answers with)."""

from __future__ import annotations

import builtins
import json
from typing import Any, Optional, Union

from . import log
from .errors import HttpError

Fields = list[tuple[str, str]]


class Response:
    """An HTTP response.

    ::

        Response.json({"id": 4}, status=201).with_header("location", "/todos/4")

    Header names are lowercased; repeated names (``set-cookie``) are all sent.
    """

    def __init__(
        self,
        status: int = 200,
        body: Union[builtins.bytes, str] = b"",
        headers: Optional[Fields] = None,
        content_type: Optional[str] = None,
    ) -> None:
        self.status = status
        self.body = body.encode("utf-8") if isinstance(body, str) else builtins.bytes(body)
        self.headers: Fields = [(k.lower(), v) for k, v in headers or []]
        if content_type is not None:
            self.set_header("content-type", content_type)

    def __repr__(self) -> str:
        return f"<Response {self.status}>"

    @classmethod
    def text(cls, body: str, status: int = 200) -> Response:
        """A ``text/plain; charset=utf-8`` body."""
        return cls(status, body, content_type="text/plain; charset=utf-8")

    @classmethod
    def html(cls, body: str, status: int = 200) -> Response:
        """A ``text/html; charset=utf-8`` body."""
        return cls(status, body, content_type="text/html; charset=utf-8")

    @classmethod
    def json(cls, value: Any, status: int = 200, *, sort_keys: bool = False) -> Response:
        """`value` serialized as a compact ``application/json`` body (``NaN`` and infinities
        refused: they are not JSON).

        Raises `HttpError` 500 ``internal`` (the cause goes to the log) when `value` cannot
        be serialized, so the client gets the host's error format with the request id.
        """
        try:
            body = json.dumps(
                value,
                separators=(",", ":"),
                ensure_ascii=False,
                sort_keys=sort_keys,
                allow_nan=False,
            ).encode("utf-8")
        except (TypeError, ValueError) as e:
            log.error(f"response body could not be serialized: {e}")
            raise HttpError.internal() from None
        return cls(status, body, content_type="application/json")

    @classmethod
    def bytes(cls, content_type: str, body: builtins.bytes, status: int = 200) -> Response:
        """Raw bytes with the given content type."""
        return cls(status, body, content_type=content_type)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        """A redirect (302 Found unless `status` says 301, 303, 307 or 308)."""
        return cls(status, headers=[("location", location)])

    @classmethod
    def no_content(cls) -> Response:
        """204 No Content."""
        return cls(204)

    def header(self, name: str) -> Optional[str]:
        """The first value of header `name` (case-insensitive)."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def with_header(self, name: str, value: str) -> Response:
        """Appends a header and returns this response."""
        self.headers.append((name.lower(), value))
        return self

    def set_header(self, name: str, value: str) -> None:
        """Replaces every value of header `name` with `value`."""
        self.remove_header(name)
        self.headers.append((name.lower(), value))

    def remove_header(self, name: str) -> None:
        """Removes every value of header `name`."""
        name = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k != name]
