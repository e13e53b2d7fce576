/**
 * Read-only configuration values the host config declares for this component
 * (`[components.NAME.config]`). A component sees only its own values.
 */
import { host } from "./host.js";

/** The value of `key`, or `fallback` when the host config does not declare it. */
export function get(key: string): string | undefined;
export function get(key: string, fallback: string): string;
export function get(key: string, fallback?: string): string | undefined {
  return host().configGet(key) ?? fallback;
}

/** Every declared key and value. */
export function all(): Record<string, string> {
  return Object.fromEntries(host().configAll());
}
