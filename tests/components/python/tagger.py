"""`tagger` in Python: the Rust `tagger` test middleware's behaviour (see
tests/components/tagger), so middleware chains mixing languages can be tested.

On the way in it appends its `tag` (config) to the request header `x-trail` and the
attribute `trail`; on the way out to `x-trail-back`, and reports the path it kept from
`on_request` in `x-kept-<tag>`. Request headers naming its tag make it misbehave:
`x-respond` (answer 418), `x-refuse` (typed 403), `x-trap-in` / `x-trap-out` (raise),
`x-spin-in` (loop forever), `x-pass` (pass without seeing the response).
"""

from lamina import HttpError, Middleware, Pass, Request, Response, config
from lamina.middleware import Decision


def names(request: Request, header: str, tag: str) -> bool:
    return tag in [t.strip() for t in request.header(header, "").split(",")]


class Tagger(Middleware):
    def on_request(self, request: Request) -> Decision:
        tag = config.get("tag", "?")
        if names(request, "x-trap-in", tag):
            raise RuntimeError(f"tagger {tag} raised in on_request")
        if names(request, "x-spin-in", tag):
            while True:
                pass
        if names(request, "x-refuse", tag):
            raise HttpError.forbidden(f"refused by {tag}")
        if names(request, "x-respond", tag):
            return Response.text(f"answered by {tag}", status=418)
        trail = request.header("x-trail")
        trail = f"{trail},{tag}" if trail is not None else tag
        request.set_header("x-trail", trail)
        request.set_attribute("trail", trail)
        if names(request, "x-pass", tag) or config.get("pass") == "always":
            return Pass(request)
        self.tag = tag
        self.trap_out = names(request, "x-trap-out", tag)
        self.seen_path = request.path
        return request

    def on_response(self, response: Response) -> Response:
        if self.trap_out:
            raise RuntimeError(f"tagger {self.tag} raised in on_response")
        back = response.header("x-trail-back")
        response.set_header("x-trail-back", f"{back},{self.tag}" if back is not None else self.tag)
        response.set_header(f"x-kept-{self.tag}", self.seen_path)
        return response


middleware = Tagger
