/** `Response`: what a handler returns (or a middleware answers with). */
import { HttpError } from "./errors.js";
import * as log from "./log.js";
import type { Fields } from "./request.js";
import { encode } from "./utf8.js";

/** Options of `Response.json`. */
export interface JsonOptions {
  /** Write object keys in sorted order, by code point (UTF-8 byte order, as serde_json's
   * maps sort). Keys that look like array indices ("9", "10") are the exception: a
   * JavaScript object always lists them first, in numeric order. */
  sortKeys?: boolean;
}

/** Compares by code point, not UTF-16 unit (they differ above U+FFFF). */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i].codePointAt(0) ?? 0) - (y[i].codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function sorted(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).sort(([a], [b]) => byCodePoint(a, b)),
    );
  }
  return value;
}

/**
 * An HTTP response. Header names are lowercased; repeated names (`set-cookie`) are all
 * sent.
 *
 * ```ts
 * Response.json({ id: 4 }, 201).withHeader("location", "/todos/4");
 * ```
 */
export class Response {
  body: Uint8Array;
  headers: Fields;

  constructor(
    public status = 200,
    body: Uint8Array | string = new Uint8Array(),
    headers: Fields = [],
  ) {
    this.body = typeof body === "string" ? encode(body) : body;
    this.headers = headers.map(([k, v]) => [k.toLowerCase(), v]);
  }

  /** A `text/plain; charset=utf-8` body. */
  static text(body: string, status = 200): Response {
    return new Response(status, body, [["content-type", "text/plain; charset=utf-8"]]);
  }

  /** A `text/html; charset=utf-8` body. */
  static html(body: string, status = 200): Response {
    return new Response(status, body, [["content-type", "text/html; charset=utf-8"]]);
  }

  /** `value` as a compact `application/json` body. Throws `HttpError` 500 `internal`
   * (the cause goes to the log) when it cannot be serialized (a BigInt, a cycle), so the
   * client gets the host's error format with the request id. */
  static json(value: unknown, status = 200, options: JsonOptions = {}): Response {
    let text: string | undefined;
    try {
      text = JSON.stringify(value, options.sortKeys ? sorted : undefined);
    } catch (e) {
      log.error(`response body could not be serialized: ${(e as Error).message}`);
      throw HttpError.internal();
    }
    return new Response(status, text ?? "null", [["content-type", "application/json"]]);
  }

  /** Raw bytes with the given content type. */
  static bytes(contentType: string, body: Uint8Array, status = 200): Response {
    return new Response(status, body, [["content-type", contentType]]);
  }

  /** A redirect (302 Found unless `status` says 301, 303, 307 or 308). */
  static redirect(location: string, status = 302): Response {
    return new Response(status, undefined, [["location", location]]);
  }

  /** 204 No Content. */
  static noContent(): Response {
    return new Response(204);
  }

  /** The first value of header `name` (case-insensitive). */
  header(name: string): string | undefined {
    const lower = name.toLowerCase();
    return this.headers.find(([k]) => k === lower)?.[1];
  }

  /** Appends a header and returns this response. */
  withHeader(name: string, value: string): this {
    this.headers.push([name.toLowerCase(), value]);
    return this;
  }

  /** Replaces every value of header `name` with `value`. */
  setHeader(name: string, value: string): void {
    this.removeHeader(name);
    this.headers.push([name.toLowerCase(), value]);
  }

  /** Removes every value of header `name`. */
  removeHeader(name: string): void {
    const lower = name.toLowerCase();
    this.headers = this.headers.filter(([k]) => k !== lower);
  }
}
