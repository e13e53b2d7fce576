/**
 * Structured logging into the host's log (CloudWatch in Lambda). The host adds the
 * component name and the request id to every line.
 *
 * ```ts
 * import { log } from "@lamina/sdk";
 * log.info("todo created", { id: 4 });
 * ```
 *
 * Field values are converted with `String()`.
 */
import { host, LEVELS, type Level } from "./host.js";

export type Fields = Record<string, unknown>;

/** Writes one line at `level`. */
export function write(level: Level, message: string, fields: Fields = {}): void {
  if (!LEVELS.includes(level)) {
    throw new RangeError(`log level must be one of ${LEVELS.join(", ")}, not ${String(level)}`);
  }
  host().log(
    level,
    message,
    Object.entries(fields).map(([k, v]) => [k, String(v)]),
  );
}

/** A `trace` line. */
export const trace = (message: string, fields?: Fields): void => write("trace", message, fields);
/** A `debug` line. */
export const debug = (message: string, fields?: Fields): void => write("debug", message, fields);
/** An `info` line. */
export const info = (message: string, fields?: Fields): void => write("info", message, fields);
/** A `warn` line. */
export const warn = (message: string, fields?: Fields): void => write("warn", message, fields);
/** An `error` line. */
export const error = (message: string, fields?: Fields): void => write("error", message, fields);
