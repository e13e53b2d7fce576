/**
 * Lamina's JavaScript/TypeScript SDK: handlers and middleware for Lamina, the WebAssembly
 * host for AWS Lambda, built into components with `lamina-js build`.
 *
 * ```ts
 * import { Router, HttpError } from "@lamina/sdk";
 * export const app = new Router();
 * app.get("/hello/{name}", (_req, { name }) => {
 *   if (!name) throw HttpError.badRequest("name must not be empty");
 *   return { message: `Hello, ${name}!` };
 * });
 * ```
 */
export * as config from "./config.js";
export * as kv from "./kv.js";
export { HttpError } from "./errors.js";
export * as log from "./log.js";
export * as metrics from "./metrics.js";
export * as trace from "./trace.js";
export * as utf8 from "./utf8.js";
export { Middleware, Pass, type Decision } from "./middleware.js";
export { Request, type Context, type Fields, type RequestInit, type Source } from "./request.js";
export { Response, type JsonOptions } from "./response.js";
export { Router, toResponse, type Params, type RouteHandler } from "./router.js";
