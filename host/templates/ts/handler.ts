// `{{name}}`: a Lamina handler. `lamina build` makes `dist/{{name}}.wasm`; `lamina.toml`
// binds it to `GET /hello/{name}`.
import { HttpError, Router, config } from "@lamina/sdk";

export const app = new Router().get("/hello/{name}", (_req, { name }) => {
  if (!name) throw HttpError.badRequest("name must not be empty");
  return { message: `${config.get("greeting", "Hello")}, ${name}!` };
});
