/**
 * `Router`: Powertools-style routing inside one component.
 *
 * ```ts
 * import { Router, HttpError } from "@lamina/sdk";
 * export const app = new Router();
 * app.get("/todos/{id}", (req, { id }) => ({ id: Number(id) }));   // objects are sent as JSON
 * app.post("/todos", (req) => Response.json(req.json(), 201));
 * ```
 *
 * The host routes first (its config binds a route such as `GET /js/todos/{id}` to this
 * component), so the router dispatches on the route template the host matched and the
 * method. An app route matches when the host's template ends with it, segment by segment
 * (`/todos/{id}` matches `/js/todos/{id}`), so one app works under any prefix; of the
 * routes that allow the method, the longest wins, and static segments win over parameters
 * over catch-alls; 405 (allowed methods in the details) only when none allows it. Parameter names need not agree: values are taken by position from what the
 * host matched. When the host route ends in a catch-all (`ANY /js/{*rest}`) the router
 * matches its templates against what the catch-all covers, then against the whole path.
 *
 * Templates use Lamina's spelling (`{id}`, `{*rest}`), Powertools' (`:id`) or `<id>`.
 */
import { HttpError } from "./errors.js";
import { Request } from "./request.js";
import { Response } from "./response.js";

/** Route parameters by name. */
export type Params = Record<string, string>;
/** A route's function. What it returns becomes the response (see `toResponse`). */
export type RouteHandler = (request: Request, params: Params) => unknown;

type Segment = { kind: "literal" | "param" | "rest"; text: string };

const PARAM = /^(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|<([A-Za-z_][A-Za-z0-9_]*)>|:([A-Za-z_][A-Za-z0-9_]*))$/;
const CATCH_ALL = /^\{\*([A-Za-z_][A-Za-z0-9_]*)\}$/;

function segments(template: string): Segment[] {
  if (!template.startsWith("/")) throw new Error(`route ${JSON.stringify(template)} must start with '/'`);
  const parts = template.split("/").slice(1).filter((p) => p !== "");
  return parts.map((part, i) => {
    let m = PARAM.exec(part);
    if (m) return { kind: "param", text: m[1] ?? m[2] ?? m[3] };
    m = CATCH_ALL.exec(part);
    if (m) {
      if (i !== parts.length - 1) {
        throw new Error(`route ${JSON.stringify(template)}: a catch-all must be the last segment`);
      }
      return { kind: "rest", text: m[1] };
    }
    if (/[{}<>]/.test(part) || part.startsWith(":")) {
      throw new Error(`route ${JSON.stringify(template)}: cannot parse segment ${JSON.stringify(part)}`);
    }
    return { kind: "literal", text: part };
  });
}

const HOST_REST = /^\{\*[^}]*\}$|^\{[^}]*\+\}$/;

/** The host's route template, read leniently: the host accepts more than app routes do
 * (`{proxy+}`, `{todo-id}`, `{name}.json`). A catch-all is `{*x}` or `{x+}`; any other
 * segment with a `{` holds a parameter; the rest are literals. Never throws. */
function hostSegments(template: string): Segment[] {
  return template
    .split("/")
    .slice(1)
    .filter((p) => p !== "")
    .map((part) => ({
      kind: HOST_REST.test(part) ? "rest" : part.includes("{") ? "param" : "literal",
      text: part,
    }));
}

const RANK = { literal: 0, param: 1, rest: 2 } as const;

/** Most specific first: more segments, then static before parameter before catch-all,
 * segment by segment (so `/todos/new` wins over `/todos/{id}`). */
function bySpecificity([a]: [Route, Params], [b]: [Route, Params]): number {
  if (a.segments.length !== b.segments.length) return b.segments.length - a.segments.length;
  for (let i = 0; i < a.segments.length; i++) {
    const d = RANK[a.segments[i].kind] - RANK[b.segments[i].kind];
    if (d !== 0) return d;
  }
  return 0;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

class Route {
  readonly segments: Segment[];
  readonly pattern: RegExp;
  constructor(
    readonly methods: Set<string>,
    readonly template: string,
    readonly handler: RouteHandler,
  ) {
    this.segments = segments(template);
    let body = "";
    for (const s of this.segments) {
      if (s.kind === "literal") body += "/" + escape(s.text);
      else if (s.kind === "param") body += `/(?<${s.text}>[^/]+)`;
      else body += `(?:/(?<${s.text}>.*))?`;
    }
    this.pattern = new RegExp(body ? `^${body}/?$` : "^/?$");
  }

  names(): string[] {
    return this.segments.filter((s) => s.kind !== "literal").map((s) => s.text);
  }

  matchTemplate(host: Segment[]): boolean {
    const n = this.segments.length;
    if (n === 0) return host.length === 0;
    if (n > host.length) return false;
    const tail = host.slice(host.length - n);
    return this.segments.every(
      (s, i) => s.kind === tail[i].kind && (s.kind !== "literal" || s.text === tail[i].text),
    );
  }

  matchPath(path: string): Params | undefined {
    const m = this.pattern.exec(path);
    if (!m) return undefined;
    const params: Params = {};
    for (const name of this.names()) params[name] = m.groups?.[name] ?? "";
    return params;
  }

  allows(method: string): boolean {
    return (
      this.methods.has("ANY") ||
      this.methods.has(method) ||
      (method === "HEAD" && this.methods.has("GET"))
    );
  }
}

/** Routes requests to the functions registered with `get`, `post`, ... */
export class Router {
  private readonly routes: Route[] = [];
  private readonly errorHandlers: [new (...args: never[]) => unknown, (e: never) => unknown][] = [];

  /** Registers `handler` for `path` and `method` (a name, `ANY`, or a list). */
  route(method: string | string[], path: string, handler: RouteHandler): this {
    const methods = new Set((Array.isArray(method) ? method : [method]).map((m) => m.toUpperCase()));
    this.routes.push(new Route(methods, path, handler));
    return this;
  }

  /** A GET route (HEAD requests are answered by it too). */
  get(path: string, handler: RouteHandler): this {
    return this.route("GET", path, handler);
  }
  /** A POST route. */
  post(path: string, handler: RouteHandler): this {
    return this.route("POST", path, handler);
  }
  /** A PUT route. */
  put(path: string, handler: RouteHandler): this {
    return this.route("PUT", path, handler);
  }
  /** A PATCH route. */
  patch(path: string, handler: RouteHandler): this {
    return this.route("PATCH", path, handler);
  }
  /** A DELETE route. */
  delete(path: string, handler: RouteHandler): this {
    return this.route("DELETE", path, handler);
  }
  /** A route for every method. */
  any(path: string, handler: RouteHandler): this {
    return this.route("ANY", path, handler);
  }

  /** Turns an error of class `kind` thrown by a route into a response, like Powertools'
   * `errorHandler`. */
  errorHandler<E>(kind: new (...args: never[]) => E, handler: (error: E) => unknown): this {
    this.errorHandlers.push([kind, handler as (e: never) => unknown]);
    return this;
  }

  private find(request: Request): [Route, Params][] {
    const host = request.route.startsWith("/") ? hostSegments(request.route) : [];
    let found: [Route, Params][] = [];
    if (host.length > 0 && host[host.length - 1].kind === "rest") {
      // The app's templates are matched against what the catch-all covers, then against
      // the whole path.
      const rest = request.params.length > 0 ? request.params[request.params.length - 1][1] : "";
      for (const path of ["/" + rest, request.path]) {
        for (const r of this.routes) {
          const p = r.matchPath(path);
          if (p) found.push([r, p]);
        }
        if (found.length > 0) break;
      }
    } else {
      const values = request.params.map(([, v]) => v);
      found = this.routes
        .filter((r) => r.matchTemplate(host))
        .map((r): [Route, Params] => {
          const names = r.names();
          const bound = names.length > 0 ? values.slice(values.length - names.length) : [];
          return [r, Object.fromEntries(names.map((n, i) => [n, bound[i] ?? ""]))];
        });
    }
    return found.sort(bySpecificity);
  }

  /** Handles `request`: the matching route's result, as a `Response`. Throws `HttpError`
   * 404 when no route matches and 405 when none allows the method. */
  handle(request: Request): Response {
    const found = this.find(request);
    if (found.length === 0) throw HttpError.notFound(`no route for ${request.path}`);
    // The most specific route that allows the method; 405 only when none does.
    const chosen = found.find(([r]) => r.allows(request.method));
    if (!chosen) {
      const allowed = new Set(found.flatMap(([r]) => [...r.methods]));
      if (allowed.has("GET")) allowed.add("HEAD");
      const list = [...allowed].sort();
      throw new HttpError(
        405,
        "method-not-allowed",
        `${request.method} is not allowed here (allowed: ${list.join(", ")})`,
        { allow: list },
      );
    }
    const [route, params] = chosen;
    try {
      return toResponse(route.handler(request, params));
    } catch (e) {
      if (e instanceof HttpError) throw e;
      for (const [kind, handler] of this.errorHandlers) {
        if (e instanceof kind) return toResponse(handler(e as never));
      }
      throw e;
    }
  }
}

/** What a route returned, as a `Response`: a `Response` as is; undefined or null → 204;
 * a string → text; a `Uint8Array` → `application/octet-stream`; anything else → JSON. */
export function toResponse(value: unknown): Response {
  if (value instanceof Response) return value;
  if (value === undefined || value === null) return Response.noContent();
  if (typeof value === "string") return Response.text(value);
  if (value instanceof Uint8Array) return Response.bytes("application/octet-stream", value);
  if (typeof (value as { then?: unknown }).then === "function") {
    throw new TypeError("a route returned a Promise: Lamina handlers are synchronous");
  }
  return Response.json(value);
}
