/**
 * The host's imports (log, config) behind a small seam: inside a component the glue
 * (`component.ts`) installs the real WIT imports; in unit tests on Node, `testing.ts`
 * installs an in-memory stand-in. SDK code never imports `lamina:http/*` directly, so it
 * runs (and is tested) outside a component too.
 */

export const LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
/** A log level, as the WIT `level` enum spells it. */
export type Level = (typeof LEVELS)[number];

/** The functions the host provides to a component. */
export interface Host {
  log(level: Level, message: string, fields: [string, string][]): void;
  configGet(key: string): string | undefined;
  configAll(): [string, string][];
}

function unbound(): never {
  throw new Error(
    "the Lamina host is not available here: log and config work inside a component " +
      "(not at module load, while it is being built) or under @lamina/sdk/testing",
  );
}

let current: Host = { log: unbound, configGet: unbound, configAll: unbound };

/** Makes `host` the one `log` and `config` talk to. */
export function install(host: Host): void {
  current = host;
}

/** The installed host. */
export function host(): Host {
  return current;
}
