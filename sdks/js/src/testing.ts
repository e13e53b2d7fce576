/**
 * Run handlers and middleware on Node, in unit tests, without building a component.
 *
 * ```ts
 * import { Request } from "@lamina/sdk";
 * import { FakeHost } from "@lamina/sdk/testing";
 * const host = new FakeHost({ greeting: "Hi" }).install();
 * const res = app.handle(new Request({ path: "/hello/Ada", route: "/hello/{name}", params: [["name", "Ada"]] }));
 * ```
 */
import { install, type Level } from "./host.js";

/** An in-memory host: `config` values, and every log line kept in `lines`. */
export class FakeHost {
  readonly lines: { level: Level; message: string; fields: Record<string, string> }[] = [];
  constructor(readonly config: Record<string, string> = {}) {}

  /** Makes this the host `log` and `config` talk to; returns it. */
  install(): this {
    install({
      log: (level, message, fields) => this.lines.push({ level, message, fields: Object.fromEntries(fields) }),
      configGet: (key) => this.config[key],
      configAll: () => Object.entries(this.config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    });
    return this;
  }
}
