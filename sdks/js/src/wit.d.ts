// The host's WIT imports as componentize-js presents them inside a component
// (wit/http.wit: `lamina:http/log`, `config`, `metrics`, `trace`).
declare module "lamina:http/log@0.2.0" {
  export function log(
    level: "trace" | "debug" | "info" | "warn" | "error",
    message: string,
    fields: [string, string][],
  ): void;
}
declare module "lamina:http/config@0.2.0" {
  export function get(key: string): string | undefined;
  export function getAll(): [string, string][];
}
declare module "lamina:http/metrics@0.2.0" {
  /** The WIT `unit` enum: `count`, `bytes-per-second`, ... A refused value throws an error
   * whose `payload` is the host's message. */
  export function add(name: string, value: number, unit: string, dimensions: [string, string][]): void;
}
declare module "lamina:http/trace@0.2.0" {
  export function header(): string | undefined;
}
// wasi:keyvalue@0.2.0-draft2 (wit/deps/keyvalue), as componentize-js presents it: a
// failed call throws an error whose `payload` is the WIT error variant.
declare module "wasi:keyvalue/store@0.2.0-draft2" {
  export type Error = { tag: "no-such-store" } | { tag: "access-denied" } | { tag: "other"; val: string };
  export class Bucket {
    get(key: string): Uint8Array | undefined;
    set(key: string, value: Uint8Array): void;
    delete(key: string): void;
    exists(key: string): boolean;
    listKeys(cursor: string | undefined): { keys: string[]; cursor?: string };
  }
  export function open(identifier: string): Bucket;
}
declare module "wasi:keyvalue/atomics@0.2.0-draft2" {
  import type { Bucket, Error } from "wasi:keyvalue/store@0.2.0-draft2";
  export type CasError = { tag: "store-error"; val: Error } | { tag: "cas-failed"; val: Cas };
  export class Cas {
    static new(bucket: Bucket, key: string): Cas;
    current(): Uint8Array | undefined;
  }
  export function increment(bucket: Bucket, key: string, delta: bigint | number): bigint | number;
  export function swap(cas: Cas, value: Uint8Array): void;
}
declare module "wasi:keyvalue/batch@0.2.0-draft2" {
  import type { Bucket } from "wasi:keyvalue/store@0.2.0-draft2";
  export function getMany(bucket: Bucket, keys: string[]): ([string, Uint8Array] | undefined)[];
  export function setMany(bucket: Bucket, keyValues: [string, Uint8Array][]): void;
  export function deleteMany(bucket: Bucket, keys: string[]): void;
}
