"""`timing` in Python: a middleware that gives every response an `x-request-id` and a
`server-timing` header, and logs each request's duration, like the Rust `timing`
(examples/timing).

The request id is the client's `x-request-id` when it sent a sane one, otherwise the Lambda
request id; it is passed on to the handler as that header too. `server-timing:
py;dur=1.234` is the time from `on_request` to `on_response`; config value `name` replaces
`py`.
"""

import re
import time

from lamina import Middleware, Request, Response, config, log

SANE = re.compile(r"[A-Za-z0-9\-_.:]{1,128}")


class Timing(Middleware):
    def on_request(self, request: Request) -> Request:
        incoming = request.header("x-request-id")
        self.request_id = (
            incoming if incoming and SANE.fullmatch(incoming) else request.context.request_id
        )
        request.set_header("x-request-id", self.request_id)
        self.method, self.route = request.method, request.route
        self.start = time.perf_counter()
        return request

    def on_response(self, response: Response) -> Response:
        millis = (time.perf_counter() - self.start) * 1000
        response.set_header("x-request-id", self.request_id)
        response.set_header("server-timing", f"{config.get('name', 'py')};dur={millis:.3f}")
        log.info(
            "request served",
            **{
                "request-id": self.request_id,
                "method": self.method,
                "route": self.route,
                "status": response.status,
                "duration-ms": f"{millis:.3f}",
            },
        )
        return response


middleware = Timing
