// `hello` in TypeScript: a text greeting, and a JSON greeting with a path parameter. The
// greeting word comes from the component's config (`greeting`), if set. Answers like the
// Rust `hello` (examples/hello), bound under any prefix, e.g. `GET /js/hello/{name}`.
import { HttpError, Response, Router, config } from "@lamina/sdk";

const greeting = (): string => config.get("greeting", "Hello");

export const app = new Router()
  .get("/hello", () => Response.text(`${greeting()}, world!\n`))
  .get("/hello/{name}", (_req, { name }) => {
    if (!name) throw HttpError.badRequest("name must not be empty");
    return { message: `${greeting()}, ${name}!`, name };
  });
