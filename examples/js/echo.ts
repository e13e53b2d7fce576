// `echo` in TypeScript: returns, as JSON, everything the handler received.
//
// Its output is byte-for-byte the Rust `echo`'s (examples/echo) for the same request: the
// same fields, keys sorted as serde_json sorts them, compact, non-ASCII as is. The contract
// test holds the Rust, Python and JavaScript echoes to that.
import { type Fields, Request, Response, utf8 } from "@lamina/sdk";

const pairs = (fields: Fields): string[][] => fields.map(([k, v]) => [k, v]);

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 with padding (the component's runtime has no `btoa` for bytes). */
function base64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    for (let j = 0; j < 4; j++) {
      out += j <= bytes.length - i ? BASE64[(n >> (18 - 6 * j)) & 63] : "=";
    }
  }
  return out;
}

function body(bytes: Uint8Array): { encoding: string; data: string } {
  try {
    return { encoding: "utf-8", data: utf8.decode(bytes) };
  } catch {
    return { encoding: "base64", data: base64(bytes) };
  }
}

function authorizer(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export default function echo(req: Request): Response {
  const c = req.context;
  const seen = {
    method: req.method,
    path: req.path,
    "raw-path": req.rawPath,
    route: req.route,
    params: pairs(req.params),
    query: pairs(req.queryPairs),
    "raw-query": req.rawQuery,
    headers: pairs(req.headers),
    cookies: pairs(req.cookies),
    body: body(req.body),
    context: {
      source: c.source,
      "request-id": c.requestId,
      stage: c.stage ?? null,
      "source-ip": c.sourceIp ?? null,
      "user-agent": c.userAgent ?? null,
      authorizer: authorizer(c.authorizer),
      "time-epoch-ms": c.timeEpochMs,
      attributes: pairs(c.attributes),
    },
  };
  const res = Response.json(seen, 200, { sortKeys: true });
  // `?set-cookie=a&set-cookie=b` asks echo to set those cookies, so tests can check that
  // several Set-Cookie headers survive every source's response shape.
  for (const cookie of req.queryAll("set-cookie")) res.withHeader("set-cookie", cookie);
  // Parsed as Rust parses a u16 (an optional `+`, ASCII digits, at most 65535).
  const status = req.query("status");
  if (status !== undefined && /^\+?[0-9]+$/.test(status) && Number(status) <= 65535) {
    res.status = Number(status);
  }
  return res;
}
