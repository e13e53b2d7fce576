"""The `hello` route on Powertools for AWS Lambda (Python), timed like benches/pipeline.rs:
event bytes in -> response bytes out, p50/p99/mean over the same number of requests.

Run by `cargo xtask bench` (which installs aws-lambda-powertools into target/bench-venv).
"""

import json
import sys
import time

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

WARMUP = 2_000
ITERATIONS = 20_000

def tagger(tag):
    """The shape of the `tagger` middleware in benches/pipeline.rs: a request header on the
    way in, a response header on the way out."""

    def middleware(app, next_middleware):
        headers = app.current_event.headers
        trail = headers.get("x-trail")
        headers["x-trail"] = f"{trail},{tag}" if trail else tag
        response = next_middleware(app)
        back = response.headers.get("x-trail-back")
        response.headers["x-trail-back"] = f"{back},{tag}" if back else tag
        return response

    return middleware


def resolver(middlewares):
    app = APIGatewayHttpResolver()

    @app.get("/hello/<name>", middlewares=middlewares)
    def hello(name):
        return {"message": f"Hello, {name}!", "name": name}

    return app


class Context:
    aws_request_id = "bench"
    function_name = "bench"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"


def measure(label, app, raw):
    ctx = Context()
    samples = []
    for i in range(WARMUP + ITERATIONS):
        start = time.perf_counter_ns()
        reply = app.resolve(json.loads(raw), ctx)
        out = json.dumps(reply).encode()
        elapsed = time.perf_counter_ns() - start
        assert reply["statusCode"] == 200, out
        if i >= WARMUP:
            samples.append(elapsed)
    samples.sort()
    at = lambda q: samples[round((len(samples) - 1) * q)] / 1000
    mean = sum(samples) / len(samples) / 1000
    print(f"{label:<44} {at(0.5):>8.1f} {at(0.99):>8.1f} {mean:>8.1f}")


def main():
    raw = open(sys.argv[1], "rb").read()
    measure("powertools python (same route)", resolver([]), raw)
    measure("powertools python, 1 middleware", resolver([tagger("m1")]), raw)
    measure("powertools python, 3 middleware", resolver([tagger(t) for t in ("m1", "m2", "m3")]), raw)


main()
