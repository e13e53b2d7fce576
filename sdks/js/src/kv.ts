/**
 * Key-value stores the host config lets this component open (`key-value = [...]` in its
 * `[components.NAME]`): an embedded file locally, DynamoDB in Lambda, the same calls
 * either way. The same API as the Rust SDK's `lamina_sdk::kv`:
 *
 * ```ts
 * import { kv } from "@lamina/sdk";
 * const store = kv.open("todos");
 * const id = store.increment("next-id");                 // atomic: no two creates share an id
 * store.setJson(`todo:${id}`, { id, title: "try lamina" });
 * const todo = store.getJson("todo:1");                   // undefined when absent
 * store.swapJson("views", (n?: number) => (n ?? 0) + 1);  // compare-and-swap, retried
 * for (const key of store.keys()) { ... }                 // every key, a page at a time
 * ```
 *
 * A failure throws `KvError`, an `HttpError`: left unhandled it answers 503
 * `store-unavailable` when the store did not answer in time, 413 for a value over
 * `MAX_VALUE`, 400 for an invalid key, else a 500 without internals (the cause is logged).
 */
import { HttpError } from "./errors.js";
import { CasLost, KvFailure, host, type Bucket } from "./host.js";
import * as log from "./log.js";
import * as utf8 from "./utf8.js";

/** Longest key, in bytes, on every backend. */
export const MAX_KEY = 2048;
/** Largest value, in bytes, on every backend. */
export const MAX_VALUE = 400_000;
/** Compare-and-swap attempts `Store.swap` makes before giving up on a contended key. */
export const MAX_SWAP_ATTEMPTS = 64;

/** Why a key-value call failed. */
export type KvErrorKind = KvFailure["kind"] | "decode" | "contended";

const STATUS: Partial<Record<KvErrorKind, [number, string, string | undefined]>> = {
  unavailable: [503, "store-unavailable", "the data store is unavailable; try again"],
  "too-large": [413, "too-large", undefined],
  "invalid-key": [400, "bad-request", undefined],
  contended: [409, "conflict", "too many concurrent updates; try again"],
};

/** A key-value call that failed: `kind` says why and `detail` is the store's own message;
 * as an `HttpError` it answers without internals. */
export class KvError extends HttpError {
  constructor(
    readonly kind: KvErrorKind,
    readonly detail: string,
  ) {
    const [status, code, message] = STATUS[kind] ?? [500, "internal", "internal error"];
    super(status, code, message ?? detail);
    this.name = "KvError";
  }
}

/** Runs `call`, a `KvFailure` turned into a `KvError` (and logged, unless it is a denied
 * open, which the host logs). */
function kvCall<T>(call: () => T): T {
  try {
    return call();
  } catch (e) {
    if (!(e instanceof KvFailure)) throw e;
    if (e.kind !== "access-denied") log.error("key-value store call failed", { cause: e.message });
    throw new KvError(e.kind, e.detail);
  }
}

function decode(key: string, raw: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(raw));
  } catch (e) {
    throw new KvError("decode", `the value at ${JSON.stringify(key)} is not JSON: ${String(e)}`);
  }
}

function encode(value: unknown): Uint8Array {
  const text = JSON.stringify(value);
  if (text === undefined) throw new KvError("other", "cannot encode the value as JSON");
  return utf8.encode(text);
}

/** An open store (`open`). */
export class Store {
  constructor(
    readonly name: string,
    private readonly bucket: Bucket,
  ) {}

  /** The value at `key`, or undefined. */
  get(key: string): Uint8Array | undefined {
    return kvCall(() => this.bucket.get(key));
  }
  /** The value at `key` decoded from JSON, or undefined when absent. */
  getJson<T = unknown>(key: string): T | undefined {
    const raw = this.get(key);
    return raw === undefined ? undefined : (decode(key, raw) as T);
  }
  /** Sets `key` to `value` (bytes, or text as UTF-8). */
  set(key: string, value: Uint8Array | string): void {
    const bytes = typeof value === "string" ? utf8.encode(value) : value;
    kvCall(() => this.bucket.set(key, bytes));
  }
  /** Sets `key` to `value` as JSON. */
  setJson(key: string, value: unknown): void {
    this.set(key, encode(value));
  }
  /** Removes `key` (nothing happens when it is absent). */
  delete(key: string): void {
    kvCall(() => this.bucket.delete(key));
  }
  /** Whether `key` has a value. */
  exists(key: string): boolean {
    return kvCall(() => this.bucket.exists(key));
  }
  /** One page of keys after `cursor`, and the next page's cursor (undefined at the end).
   * Keys come in no particular order. */
  listPage(cursor?: string): { keys: string[]; cursor: string | undefined } {
    return kvCall(() => this.bucket.listKeys(cursor));
  }
  /** Every key, fetched a page at a time. */
  *keys(): Generator<string> {
    let cursor: string | undefined;
    do {
      const page = this.listPage(cursor);
      yield* page.keys;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }
  /** Adds `delta` to the counter at `key` (absent counts as 0) atomically; the new value.
   * A counter reads back (`get`) as its decimal text. */
  increment(key: string, delta = 1): number {
    return kvCall(() => this.bucket.increment(key, delta));
  }
  /** Replaces the value at `key` with `update(current)` atomically, calling `update` again
   * on the new value when another writer got there first (up to `MAX_SWAP_ATTEMPTS`
   * times); returns what was written. */
  swap(key: string, update: (current: Uint8Array | undefined) => Uint8Array): Uint8Array {
    return this.compareAndSwap(key, (current) => {
      const written = update(current);
      return [written, written];
    });
  }
  /** `swap` on JSON values. Nothing is written when the stored value is not JSON. */
  swapJson<T>(key: string, update: (current: T | undefined) => T): T {
    return this.compareAndSwap(key, (current) => {
      const next = update(current === undefined ? undefined : (decode(key, current) as T));
      return [encode(next), next];
    });
  }
  private compareAndSwap<R>(key: string, step: (current: Uint8Array | undefined) => [Uint8Array, R]): R {
    return kvCall(() => {
      let { current, handle } = this.bucket.cas(key);
      for (let attempt = 0; attempt < MAX_SWAP_ATTEMPTS; attempt++) {
        const [written, result] = step(current);
        try {
          this.bucket.swap(handle, written);
          return result;
        } catch (e) {
          if (!(e instanceof CasLost)) throw e;
          ({ current, handle } = e);
        }
      }
      throw new KvError("contended", `${JSON.stringify(key)} changed under ${MAX_SWAP_ATTEMPTS} attempts to update it`);
    });
  }
  /** The values of `keys`, in order (undefined for each absent key). */
  getMany(keys: string[]): (Uint8Array | undefined)[] {
    return kvCall(() => this.bucket.getMany([...keys]));
  }
  /** Sets every `[key, value]`; not atomic: on an error, some may be set. */
  setMany(pairs: [string, Uint8Array][]): void {
    kvCall(() => this.bucket.setMany([...pairs]));
  }
  /** Removes every key in `keys`; not atomic. */
  deleteMany(keys: string[]): void {
    kvCall(() => this.bucket.deleteMany([...keys]));
  }
}

/** Opens the store `name`; throws `KvError` with kind `access-denied` when the host config
 * does not let this component open it. */
export function open(name: string): Store {
  return new Store(name, kvCall(() => host().kvOpen(name)));
}
