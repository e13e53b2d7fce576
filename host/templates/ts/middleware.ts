// `{{name}}`: a Lamina middleware. `lamina build` makes `dist/{{name}}.wasm`; list it in a
// config's `middleware = [...]` to run it in front of handlers.
//
// It answers 401 when the request has no `x-api-key` header, and adds
// `x-{{name}}: <milliseconds>` to every response it passes through.
import { Middleware, Request, Response } from "@lamina/sdk";

export default class {{class}} extends Middleware {
  private start = 0;

  onRequest(req: Request): Request | Response {
    const key = req.header("x-api-key");
    if (key === undefined || key.trim() === "") {
      return Response.text("missing x-api-key\n", 401);
    }
    this.start = Date.now();
    return req;
  }

  onResponse(res: Response): Response {
    res.setHeader("x-{{name}}", (Date.now() - this.start).toFixed(3));
    return res;
  }
}
