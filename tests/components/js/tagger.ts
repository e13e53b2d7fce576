// `tagger` in TypeScript: the Rust `tagger` test middleware's behaviour (see
// tests/components/tagger), so middleware chains mixing languages can be tested.
//
// On the way in it appends its `tag` (config) to the request header `x-trail` and the
// attribute `trail`; on the way out to `x-trail-back`, and reports the path it kept from
// `onRequest` in `x-kept-<tag>`. Request headers naming its tag make it misbehave:
// `x-respond` (answer 418), `x-refuse` (typed 403), `x-trap-in` / `x-trap-out` (throw),
// `x-spin-in` (loop forever), `x-pass` (pass without seeing the response).
import { type Decision, HttpError, Middleware, Pass, Request, Response, config } from "@lamina/sdk";

const names = (req: Request, header: string, tag: string): boolean =>
  (req.header(header) ?? "").split(",").some((t) => t.trim() === tag);

export default class Tagger extends Middleware {
  private tag = "";
  private trapOut = false;
  private seenPath = "";

  onRequest(req: Request): Decision {
    const tag = config.get("tag", "?");
    if (names(req, "x-trap-in", tag)) throw new Error(`tagger ${tag} threw in onRequest`);
    if (names(req, "x-spin-in", tag)) for (;;);
    if (names(req, "x-refuse", tag)) throw HttpError.forbidden(`refused by ${tag}`);
    if (names(req, "x-respond", tag)) return Response.text(`answered by ${tag}`, 418);
    const before = req.header("x-trail");
    const trail = before !== undefined ? `${before},${tag}` : tag;
    req.setHeader("x-trail", trail);
    req.setAttribute("trail", trail);
    if (names(req, "x-pass", tag) || config.get("pass") === "always") return new Pass(req);
    this.tag = tag;
    this.trapOut = names(req, "x-trap-out", tag);
    this.seenPath = req.path;
    return req;
  }

  onResponse(res: Response): Response {
    if (this.trapOut) throw new Error(`tagger ${this.tag} threw in onResponse`);
    const back = res.header("x-trail-back");
    res.setHeader("x-trail-back", back !== undefined ? `${back},${this.tag}` : this.tag);
    res.setHeader(`x-kept-${this.tag}`, this.seenPath);
    return res;
  }
}
