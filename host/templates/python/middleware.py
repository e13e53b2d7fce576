"""`{{name}}`: a Lamina middleware. `lamina build` makes `dist/{{name}}.wasm`; list it in a
config's `middleware = [...]` to run it in front of handlers.

It answers 401 when the request has no `x-api-key` header, and adds
`x-{{name}}: <milliseconds>` to every response it passes through.
"""

import time
from typing import Optional, Union

from lamina import Middleware, Request, Response


class {{class}}(Middleware):
    def on_request(self, request: Request) -> Optional[Union[Request, Response]]:
        key = request.header("x-api-key")
        if key is None or not key.strip():
            return Response.text("missing x-api-key\n", status=401)
        self.start = time.perf_counter()
        return request

    def on_response(self, response: Response) -> Response:
        millis = (time.perf_counter() - self.start) * 1000
        response.set_header("x-{{name}}", f"{millis:.3f}")
        return response


middleware = {{class}}
