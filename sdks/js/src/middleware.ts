/**
 * `Middleware`: a component in front of handlers that sees, changes or answers requests,
 * and sees or changes responses.
 *
 * ```ts
 * import { Middleware, Request, Response } from "@lamina/sdk";
 * export class Timing extends Middleware {
 *   start = 0;
 *   onRequest(request: Request) { this.start = Date.now(); return request; }
 *   onResponse(response: Response) {
 *     response.setHeader("server-timing", `app;dur=${Date.now() - this.start}`);
 *     return response;
 *   }
 * }
 * export default Timing;      // what `lamina-js build --middleware` exports
 * ```
 *
 * The SDK makes one object of the class per request and calls both hooks on it, so what
 * `onRequest` keeps on `this` is there in `onResponse` (and gone by the next request).
 * `onRequest` returns the (possibly changed) request to pass it on, `new Pass(request)` to
 * pass it on without looking at the response (the host skips `onResponse` and releases
 * the instance at once), or a `Response` to answer now. A class that does not override
 * `onResponse` passes automatically. Throwing `HttpError` answers with that error.
 */
import { Request } from "./request.js";
import { Response } from "./response.js";

/** Pass `request` on without calling `onResponse`. */
export class Pass {
  constructor(readonly request: Request) {}
}

/** What `onRequest` may return (undefined passes the request on unchanged). */
export type Decision = Request | Pass | Response | undefined | void;

/** Base class of a middleware; override `onRequest` and/or `onResponse`. */
export class Middleware {
  /** Called before the handler (and later middleware) with the request. */
  onRequest(request: Request): Decision {
    return request;
  }

  /** Called on the way back with the response from further down the chain. */
  onResponse(response: Response): Response {
    return response;
  }

  /** Whether this class overrides `onResponse` (else requests are passed). */
  static wantsResponse(): boolean {
    return this.prototype.onResponse !== Middleware.prototype.onResponse;
  }
}
