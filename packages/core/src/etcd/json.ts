import { decodeError } from '../errors.js';

/**
 * A small strict JSON reader that keeps integers exact (as bigint), for
 * etcd's JSON where member IDs are decimal uint64 that `JSON.parse` would
 * round; and a string writer that escapes as Go's encoding/json does, so
 * what we write is byte for byte what etcd writes.
 */

export type JsonValue = null | boolean | string | number | bigint | JsonValue[] | JsonObject;
/** Objects as Maps: no prototype keys, duplicate keys keep the last value (as Go does). */
export type JsonObject = Map<string, JsonValue>;

const MAX_DEPTH = 64;

class JsonReader {
  pos = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw decodeError(`malformed JSON at offset ${this.pos}: ${what}`);
  }

  ws(): void {
    const s = this.s;
    let p = this.pos;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH}`);
    this.ws();
    const c = this.s.charCodeAt(this.pos);
    if (c === 0x7b) return this.object(depth);
    if (c === 0x5b) return this.array(depth);
    if (c === 0x22) return this.string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.s.startsWith('true', this.pos)) {
      this.pos += 4;
      return true;
    }
    if (this.s.startsWith('false', this.pos)) {
      this.pos += 5;
      return false;
    }
    if (this.s.startsWith('null', this.pos)) {
      this.pos += 4;
      return null;
    }
    return this.fail(Number.isNaN(c) ? 'unexpected end' : `unexpected character ${JSON.stringify(this.s[this.pos])}`);
  }

  object(depth: number): JsonObject {
    const out: JsonObject = new Map();
    this.pos++;
    this.ws();
    if (this.s.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.pos) !== 0x22) this.fail('expected a key');
      const key = this.string();
      this.ws();
      if (this.s.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':'");
      this.pos++;
      out.set(key, this.value(depth + 1));
      this.ws();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 0x7d) return out;
      if (c !== 0x2c) this.fail("expected ',' or '}'");
    }
  }

  array(depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos++;
    this.ws();
    if (this.s.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 0x5d) return out;
      if (c !== 0x2c) this.fail("expected ',' or ']'");
    }
  }

  string(): string {
    const s = this.s;
    let p = this.pos + 1;
    let out = '';
    let from = p;
    for (;;) {
      if (p >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(p);
      if (c === 0x22) break;
      if (c < 0x20) {
        this.pos = p;
        this.fail('control character in string');
      }
      if (c !== 0x5c) {
        p++;
        continue;
      }
      out += s.slice(from, p);
      const e = s[p + 1];
      p += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = s.slice(p, p + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos = p;
            this.fail('bad \\u escape');
          }
          out += String.fromCharCode(Number.parseInt(hex, 16));
          p += 4;
          break;
        }
        default:
          this.pos = p - 1;
          this.fail('bad escape');
      }
      from = p;
    }
    this.pos = p + 1;
    return out + s.slice(from, p);
  }

  number(): number | bigint {
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.pos, this.pos + 400));
    if (!m) return this.fail('bad number');
    this.pos += m[0].length;
    if (m[1] === undefined && m[2] === undefined) return BigInt(m[0]);
    return Number(m[0]);
  }
}

/** Parses JSON text; integers come back as bigint, other numbers as number. Throws ERR_DECODE only. */
export function parseJsonExact(text: string): JsonValue {
  const r = new JsonReader(text);
  const v = r.value(0);
  r.ws();
  if (r.pos !== text.length) r.fail('trailing characters');
  return v;
}

const HEX = '0123456789abcdef';

/**
 * A JSON string literal as Go's encoding/json writes it: `<`, `>`, `&`,
 * U+2028 and U+2029 as `\u` escapes, `\n` `\r` `\t`, other control characters
 * as `\u00xx`, and a lone surrogate (invalid UTF-8 in Go) as `\ufffd`.
 */
export function goJsonString(s: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) {
      esc =
        c === 0x22
          ? '\\"'
          : c === 0x5c
            ? '\\\\'
            : c === 0x0a
              ? '\\n'
              : c === 0x0d
                ? '\\r'
                : c === 0x09
                  ? '\\t'
                  : `\\u00${HEX[c >> 4]}${HEX[c & 15]}`;
    } else if (c === 0x2028 || c === 0x2029) {
      esc = `\\u${c.toString(16)}`;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      esc = '\\ufffd';
    }
    if (esc !== undefined) {
      out += s.slice(from, i) + esc;
      from = i + 1;
    }
  }
  return `${out}${s.slice(from)}"`;
}
