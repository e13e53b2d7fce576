// `timing` in TypeScript: a middleware that gives every response an `x-request-id` and a
// `server-timing` header, and logs each request's duration, like the Rust `timing`
// (examples/timing). The request id is the client's `x-request-id` when it sent a sane
// one, otherwise the Lambda request id; `server-timing: js;dur=1.234` is the time from
// `onRequest` to `onResponse` (config value `name` replaces `js`).
import { Middleware, Request, Response, config, log } from "@lamina/sdk";

const SANE = /^[A-Za-z0-9\-_.:]{1,128}$/;

/** Milliseconds, sub-millisecond where the engine has `performance` (QuickJS has not). */
const now = (): number =>
  (globalThis as { performance?: { now(): number } }).performance?.now() ?? Date.now();

export default class Timing extends Middleware {
  private start = 0;
  private requestId = "";
  private method = "";
  private route = "";

  onRequest(req: Request): Request {
    const incoming = req.header("x-request-id");
    this.requestId = incoming !== undefined && SANE.test(incoming) ? incoming : req.context.requestId;
    req.setHeader("x-request-id", this.requestId);
    this.method = req.method;
    this.route = req.route;
    this.start = now();
    return req;
  }

  onResponse(res: Response): Response {
    const millis = (now() - this.start).toFixed(3);
    res.setHeader("x-request-id", this.requestId);
    res.setHeader("server-timing", `${config.get("name", "js")};dur=${millis}`);
    log.info("request served", {
      "request-id": this.requestId,
      method: this.method,
      route: this.route,
      status: res.status,
      "duration-ms": millis,
    });
    return res;
  }
}
