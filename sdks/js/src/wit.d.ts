// The host's WIT imports as componentize-js presents them inside a component
// (wit/http.wit: `lamina:http/log`, `lamina:http/config`).
declare module "lamina:http/log@0.1.0" {
  export function log(
    level: "trace" | "debug" | "info" | "warn" | "error",
    message: string,
    fields: [string, string][],
  ): void;
}
declare module "lamina:http/config@0.1.0" {
  export function get(key: string): string | undefined;
  export function getAll(): [string, string][];
}
