/**
 * UTF-8 both ways. The engine's `TextEncoder`/`TextDecoder` when it has them
 * (SpiderMonkey, Node), else these (QuickJS has neither), with the same results: lone
 * surrogates encode as U+FFFD, and decoding is strict (the WHATWG decoder's `fatal` mode).
 */

interface Encoder {
  encode(text: string): Uint8Array;
}
interface Decoder {
  decode(bytes: Uint8Array): string;
}
const g = globalThis as {
  TextEncoder?: new () => Encoder;
  TextDecoder?: new (label: string, options: { fatal: boolean; ignoreBOM: boolean }) => Decoder;
};
const encoder = g.TextEncoder ? new g.TextEncoder() : undefined;
// ignoreBOM: keep a leading U+FEFF as text, as Rust, Python and the fallback do.
const decoder = g.TextDecoder ? new g.TextDecoder("utf-8", { fatal: true, ignoreBOM: true }) : undefined;

/** `text` as UTF-8 bytes. */
export function encode(text: string): Uint8Array {
  if (encoder) return encoder.encode(text);
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

/** `bytes` as text; throws `TypeError` when they are not valid UTF-8. */
export function decode(bytes: Uint8Array): string {
  if (decoder) return decoder.decode(bytes);
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    let need = 0;
    let c = 0;
    let min = 0;
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) [need, c, min] = [1, b & 0x1f, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, c, min] = [2, b & 0x0f, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, c, min] = [3, b & 0x07, 0x10000];
    else throw new TypeError(`invalid UTF-8 at byte ${i}`);
    for (let k = 1; k <= need; k++) {
      const n = bytes[i + k];
      if (n === undefined || (n & 0xc0) !== 0x80) throw new TypeError(`invalid UTF-8 at byte ${i}`);
      c = (c << 6) | (n & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
      throw new TypeError(`invalid UTF-8 at byte ${i}`);
    }
    out += String.fromCodePoint(c);
    i += need + 1;
  }
  return out;
}
