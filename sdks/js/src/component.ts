/**
 * The glue between the SDK and the component's WIT exports and imports.
 *
 * Imported only by the entry module `lamina-js build` generates, inside the component. It
 * converts WIT records to SDK objects and back, installs the host's imports, and turns exceptions into typed errors, so nothing in user code sees a WIT
 * shape.
 */
import { getAll, get } from "lamina:http/config@0.2.0";
import { log } from "lamina:http/log@0.2.0";
import { add as metricsAdd } from "lamina:http/metrics@0.2.0";
import { header as traceHeader } from "lamina:http/trace@0.2.0";
import { Cas, increment, swap } from "wasi:keyvalue/atomics@0.2.0-draft2";
import { deleteMany, getMany, setMany } from "wasi:keyvalue/batch@0.2.0-draft2";
import { open, type Bucket as WitBucket, type Error as WitKvError } from "wasi:keyvalue/store@0.2.0-draft2";
import { HttpError } from "./errors.js";
import { CasLost, KvFailure, MetricsError, install, type Bucket } from "./host.js";
import { Middleware, Pass } from "./middleware.js";
import { Request, type Fields, type Source } from "./request.js";
import { Response } from "./response.js";
import { Router, toResponse } from "./router.js";

/** The `payload` of a failed WIT call (what componentize-js throws), or the error itself. */
function payloadOf(e: unknown): unknown {
  return typeof e === "object" && e !== null && "payload" in e ? (e as { payload: unknown }).payload : e;
}

/** A `wasi:keyvalue` error as the SDK's: the host prefixes `other`'s message with the kind
 * (`unavailable: ...`). Anything that is not a WIT error (a trap) is rethrown. */
function kvFailure(e: unknown): never {
  const error = payloadOf(e) as WitKvError | undefined;
  if (error?.tag === "no-such-store" || error?.tag === "access-denied") {
    throw new KvFailure("access-denied", "the host config does not grant this store");
  }
  if (error?.tag !== "other") throw e;
  for (const kind of ["unavailable", "too-large", "invalid-key"] as const) {
    if (error.val.startsWith(`${kind}: `)) throw new KvFailure(kind, error.val.slice(kind.length + 2));
  }
  throw new KvFailure("other", error.val);
}

function kv<T>(call: () => T): T {
  try {
    return call();
  } catch (e) {
    return kvFailure(e);
  }
}

/** `Bucket` over the generated `wasi:keyvalue` bindings. */
function bucket(b: WitBucket): Bucket {
  return {
    get: (key) => kv(() => b.get(key)),
    set: (key, value) => kv(() => b.set(key, value)),
    delete: (key) => kv(() => b.delete(key)),
    exists: (key) => kv(() => b.exists(key)),
    listKeys: (cursor) => kv(() => {
      const page = b.listKeys(cursor);
      return { keys: page.keys, cursor: page.cursor ?? undefined };
    }),
    increment: (key, delta) =>
      kv(() => Number(increment(b, key, u64AsBigInt ? BigInt(Math.trunc(delta)) : Math.trunc(delta)))),
    cas: (key) => kv(() => {
      const handle = Cas.new(b, key);
      return { current: handle.current() ?? undefined, handle };
    }),
    swap: (handle, value) => {
      try {
        swap(handle as Cas, value);
      } catch (e) {
        const error = payloadOf(e) as { tag?: string; val?: unknown } | undefined;
        if (error?.tag === "cas-failed") {
          const fresh = error.val as Cas;
          throw new CasLost(kv(() => fresh.current() ?? undefined), fresh);
        }
        if (error?.tag === "store-error") kvFailure({ payload: error.val });
        throw e;
      }
    },
    getMany: (keys) => kv(() => getMany(b, keys).map((pair) => pair?.[1])),
    setMany: (pairs) => kv(() => setMany(b, pairs)),
    deleteMany: (keys) => kv(() => deleteMany(b, keys)),
  };
}

install({
  log,
  configGet: get,
  configAll: getAll,
  kvOpen: (name) => bucket(kv(() => open(name))),
  metricsAdd: (name, value, unit, dimensions) => {
    try {
      // "Bytes/Second" is the WIT enum's `bytes-per-second`.
      metricsAdd(name, value, unit.toLowerCase().replace("/", "-per-"), dimensions);
    } catch (e) {
      const reason = payloadOf(e);
      if (typeof reason === "string") throw new MetricsError(reason);
      throw e;
    }
  },
  traceHeader: () => traceHeader() ?? undefined,
});

/** The WIT `request` record as componentize-js gives it. */
interface WitRequest {
  method: string;
  path: string;
  rawPath: string;
  query: Fields;
  rawQuery: string;
  headers: Fields;
  cookies: Fields;
  body: Uint8Array;
  params: Fields;
  route: string;
  context: {
    source: Source;
    requestId: string;
    stage?: string;
    sourceIp?: string;
    userAgent?: string;
    authorizer?: string;
    timeEpochMs: bigint | number;
    attributes: Fields;
  };
}

/** The WIT `response` record. */
interface WitResponse {
  status: number;
  headers: Fields;
  body: Uint8Array;
}

/** How the engine passes a WIT `u64`: SpiderMonkey (componentize-js) as a BigInt, QuickJS
 * (componentize-qjs) as a number. It wants the same kind back. */
let u64AsBigInt = true;

function fromWit(r: WitRequest): Request {
  u64AsBigInt = typeof r.context.timeEpochMs === "bigint";
  return new Request({
    ...r,
    query: r.query,
    context: { ...r.context, timeEpochMs: Number(r.context.timeEpochMs) },
  });
}

function toWit(r: Request): WitRequest {
  const c = r.context;
  return {
    method: r.method,
    path: r.path,
    rawPath: r.rawPath,
    query: r.queryPairs,
    rawQuery: r.rawQuery,
    headers: r.headers,
    cookies: r.cookies,
    body: r.body,
    params: r.params,
    route: r.route,
    context: {
      source: c.source,
      requestId: c.requestId,
      stage: c.stage,
      sourceIp: c.sourceIp,
      userAgent: c.userAgent,
      authorizer: c.authorizer,
      timeEpochMs: u64AsBigInt ? BigInt(Math.trunc(c.timeEpochMs)) : Math.trunc(c.timeEpochMs),
      attributes: c.attributes,
    },
  };
}

const responseToWit = (r: Response): WitResponse => ({
  status: r.status,
  headers: r.headers,
  body: r.body,
});

/** What componentize-js turns into the `err` of a WIT `result`: an error with `payload`. */
function typed(e: HttpError): Error {
  const error = new Error(e.message) as Error & { payload: unknown };
  error.payload = { status: e.status, code: e.code, message: e.message, details: e.detailsJson() };
  return error;
}

/** An exception nobody handled: the client gets a 500 `internal error` (the host adds the
 * request id), the log gets the cause. */
function failed(what: string, e: unknown): Error {
  if (e instanceof HttpError) return typed(e);
  const cause = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const stack = e instanceof Error && e.stack ? e.stack : "";
  log("error", `${what} failed`, [["cause", cause], ["stack", stack]]);
  return typed(HttpError.internal());
}

/** A handler: a `Router` or a function of a `Request`. */
export type Handler = Router | ((request: Request) => unknown);

/** The `request-handler` export around `handler`. */
export function handlerExport(handler: Handler): { handle(request: WitRequest): WitResponse } {
  const call = handler instanceof Router ? (r: Request) => handler.handle(r) : handler;
  if (typeof call !== "function") {
    throw new TypeError("the handler module must export a Router or a function (as `app` or default)");
  }
  return {
    handle(request: WitRequest): WitResponse {
      try {
        return responseToWit(toResponse(call(fromWit(request))));
      } catch (e) {
        throw failed("handler", e);
      }
    },
  };
}

type Action =
  | { tag: "next"; val: WitRequest }
  | { tag: "pass"; val: WitRequest }
  | { tag: "respond"; val: WitResponse };

/** The `request-middleware` export around `kind`, one object of it per request. */
export function middlewareExport(kind: typeof Middleware): {
  onRequest(request: WitRequest): Action;
  onResponse(response: WitResponse): WitResponse;
} {
  if (typeof kind !== "function" || !(kind.prototype instanceof Middleware)) {
    throw new TypeError(
      "the middleware module must export a class extending Middleware (as `middleware` or default)",
    );
  }
  let current: Middleware | undefined;
  return {
    onRequest(request: WitRequest): Action {
      try {
        current = new kind();
        const req = fromWit(request);
        const decision = current.onRequest(req) ?? req;
        if (decision instanceof Response) return { tag: "respond", val: responseToWit(decision) };
        if (decision instanceof Pass) return { tag: "pass", val: toWit(decision.request) };
        if (decision instanceof Request) {
          return { tag: kind.wantsResponse() ? "next" : "pass", val: toWit(decision) };
        }
        throw new TypeError(
          `${kind.name}.onRequest returned ${typeof decision}: return a Request, new Pass(request), a Response or undefined`,
        );
      } catch (e) {
        throw failed("middleware onRequest", e);
      }
    },
    onResponse(response: WitResponse): WitResponse {
      try {
        const out = (current ?? new kind()).onResponse(
          new Response(response.status, response.body, response.headers),
        );
        if (!(out instanceof Response)) {
          throw new TypeError(`${kind.name}.onResponse returned ${typeof out}, not a Response`);
        }
        return responseToWit(out);
      } catch (e) {
        throw failed("middleware onResponse", e);
      }
    },
  };
}
