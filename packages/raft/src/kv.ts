import { ErrorCode, RaftwireError } from '@raftwire/core';
import type { ReadableStateMachine } from './state-machine.js';

/** A key-value command. */
export type KvCommand = { op: 'put'; key: string; value: Uint8Array } | { op: 'delete'; key: string };

/** The result of applying a {@link KvCommand}: the previous value, if any. */
export interface KvResult {
  prev: Uint8Array | null;
}

const OP_PUT = 1;
const OP_DELETE = 2;
const SNAPSHOT_MAGIC = 0x52574b31; // "RWK1"
const MAX_KEY_BYTES = 64 * 1024;

const utf8 = new TextEncoder();
const utf8d = new TextDecoder('utf-8', { fatal: true });

function corrupt(what: string): RaftwireError {
  return new RaftwireError(ErrorCode.CORRUPT, `malformed key-value ${what}`);
}

/**
 * Encodes a command: op (1 byte), key length (u32 BE), key (UTF-8), value (rest). A short ASCII key
 * (the common case) is written straight into the output, without a TextEncoder result or a
 * DataView per command; any other key goes through the UTF-8 encoder, with the same bytes.
 */
export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  if (typeof cmd.key !== 'string') throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'key must be a string');
  let value: Uint8Array;
  if (cmd.op === 'put') {
    if (!(cmd.value instanceof Uint8Array)) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'value must be a Uint8Array');
    value = cmd.value;
  } else if (cmd.op === 'delete') {
    value = EMPTY;
  } else {
    throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `unknown op ${String((cmd as { op: unknown }).op)}`);
  }
  const k = cmd.key;
  let out: Uint8Array | undefined;
  let n = k.length;
  if (n <= ASCII_FAST_MAX) {
    out = new Uint8Array(5 + n + value.length);
    for (let i = 0; i < n; i++) {
      const c = k.charCodeAt(i);
      if (c >= 0x80) {
        out = undefined;
        break;
      }
      out[5 + i] = c;
    }
  }
  if (out === undefined) {
    const key = utf8.encode(k);
    if (key.length > MAX_KEY_BYTES) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `key longer than ${MAX_KEY_BYTES} bytes`);
    n = key.length;
    out = new Uint8Array(5 + n + value.length);
    out.set(key, 5);
  }
  out[0] = cmd.op === 'put' ? OP_PUT : OP_DELETE;
  out[1] = n >>> 24;
  out[2] = (n >>> 16) & 0xff;
  out[3] = (n >>> 8) & 0xff;
  out[4] = n & 0xff;
  out.set(value, 5 + n);
  return out;
}

const EMPTY = new Uint8Array(0);

/** Short ASCII keys (the common case) are built directly; anything else goes through the strict UTF-8 decoder. */
const ASCII_FAST_MAX = 64;

function decodeKey(data: Uint8Array, lo: number, hi: number): string {
  if (hi - lo <= ASCII_FAST_MAX) {
    let key = '';
    let i = lo;
    for (; i < hi; i++) {
      const c = data[i] as number;
      if (c >= 0x80) break;
      key += String.fromCharCode(c);
    }
    if (i === hi) return key;
  }
  try {
    return utf8d.decode(data.subarray(lo, hi));
  } catch (err) {
    throw new RaftwireError(ErrorCode.CORRUPT, 'key is not UTF-8', { cause: err });
  }
}

/** Where the value of the command last read by {@link commandKey} starts (set beside its key: no object per command). */
let valueAt = 0;

/**
 * The key of the command in `data[at..]`, checking its op and lengths as {@link decodeKvCommand}
 * does; sets {@link valueAt}.
 */
function commandKey(data: Uint8Array, at: number): string {
  const end = data.length;
  if (end - at < 5) throw corrupt('command');
  const op = data[at];
  const klen =
    ((data[at + 1] as number) * 0x100_0000 +
      (((data[at + 2] as number) << 16) | ((data[at + 3] as number) << 8) | (data[at + 4] as number))) >>>
    0;
  if (klen > MAX_KEY_BYTES || at + 5 + klen > end) throw corrupt('command');
  const key = decodeKey(data, at + 5, at + 5 + klen);
  if (op !== OP_PUT && !(op === OP_DELETE && end === at + 5 + klen)) throw corrupt('command');
  valueAt = at + 5 + klen;
  return key;
}

/** Decodes {@link encodeKvCommand}'s output; throws ERR_CORRUPT on malformed input. */
export function decodeKvCommand(data: Uint8Array): KvCommand {
  const key = commandKey(data, 0);
  return data[0] === OP_PUT ? { op: 'put', key, value: data.slice(valueAt) } : { op: 'delete', key };
}

const SLAB_BYTES = 64 * 1024;
/** Values up to this size share slabs; larger ones get a buffer of their own. */
const SLAB_MAX_VALUE = 1024;

interface Slab {
  buf: Uint8Array;
  pos: number;
  /** Bytes of the map's values in this slab. */
  live: number;
  /** Keys stored in this slab, in order (a key whose value has moved on since is skipped when this slab's values move). */
  keys: string[];
}

/**
 * Where a KvStateMachine keeps its values: a copy of each, cut from 64 KiB slabs. A typed
 * array over 64 bytes gets an off-heap buffer of its own, which cost ~0.8 µs to allocate and
 * collect per value against ~0.15 µs for a slab copy, on every member for every put. A slab
 * region is never reused: a value handed out stays valid and unchanged. A slab that is not the
 * one being filled and whose live bytes fall under a quarter of it has its values moved to the
 * current slab, so slabs hold at most 4 × the live bytes (plus the slab being filled).
 */
class ValueArena {
  private cur: Slab | null = null;
  private readonly slabs = new WeakMap<ArrayBufferLike, Slab>();
  /** Bytes of the slabs that hold values (the current one included). */
  slabBytes = 0;

  /** A copy of `src[lo, hi)`, to be the value of `key`. */
  store(key: string, src: Uint8Array, lo: number, hi: number): Uint8Array {
    const n = hi - lo;
    if (n === 0) return new Uint8Array(0);
    if (n > SLAB_MAX_VALUE) return src.slice(lo, hi);
    let s = this.cur;
    if (s === null || s.pos + n > s.buf.length) {
      s = { buf: new Uint8Array(SLAB_BYTES), pos: 0, live: 0, keys: [] };
      this.cur = s;
      this.slabs.set(s.buf.buffer, s);
      this.slabBytes += SLAB_BYTES;
    }
    const out = s.buf.subarray(s.pos, s.pos + n);
    out.set(lo === 0 && hi === src.length ? src : src.subarray(lo, hi));
    s.pos += n;
    s.live += n;
    s.keys.push(key);
    return out;
  }

  /** `value` (stored for `key`) is no longer in `map`; may move the values of a sparse slab. */
  release(key: string, value: Uint8Array, map: Map<string, Uint8Array>): void {
    // Only store()'s slab views are looked up (reading .buffer of a small on-heap array would move it off-heap).
    if (value.length === 0 || value.length > SLAB_MAX_VALUE) return;
    const s = this.slabs.get(value.buffer);
    if (s === undefined) return;
    s.live -= value.length;
    if (s === this.cur || s.live * 4 >= s.buf.length) return;
    this.slabs.delete(s.buf.buffer);
    this.slabBytes -= SLAB_BYTES;
    const keys = s.keys;
    s.keys = [];
    s.live = 0;
    for (const k of keys) {
      if (k === key) continue; // being replaced or deleted by the caller
      const v = map.get(k);
      // Still this slab's value (not overwritten, deleted or moved since): move it.
      if (v !== undefined && v.length > 0 && v.length <= SLAB_MAX_VALUE && v.buffer === s.buf.buffer)
        map.set(k, this.store(k, v, 0, v.length));
    }
  }
}

/** The demo's and CLI's state machine: a map from string keys to byte values. */
export class KvStateMachine implements ReadableStateMachine<KvResult, string, Uint8Array | undefined> {
  private map = new Map<string, Uint8Array>();
  private arena = new ValueArena();

  get(key: string): Uint8Array | undefined {
    return this.map.get(key);
  }

  /** The value of `key` (what `RaftNode.read(key)` returns after its linearizable barrier). */
  read(key: string): Uint8Array | undefined {
    if (typeof key !== 'string') throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'key must be a string');
    return this.map.get(key);
  }

  get size(): number {
    return this.map.size;
  }

  /**
   * Bytes of the shared slabs that hold values of up to 1 KiB (larger ones have buffers of
   * their own): at most 4 × those values' bytes, plus the 64 KiB slab being filled.
   */
  get slabBytes(): number {
    return this.arena.slabBytes;
  }

  keys(): string[] {
    return [...this.map.keys()].sort();
  }

  apply(data: Uint8Array): KvResult {
    return this.applyAt(data, 0);
  }

  /**
   * @internal `apply(data.subarray(at))` without the subarray: RaftNode's applier calls it for
   * a KvStateMachine whose `apply` is this class's own (not overridden).
   */
  applyAt(data: Uint8Array, at: number): KvResult {
    const key = commandKey(data, at);
    const prev = this.map.get(key);
    if (prev !== undefined) this.arena.release(key, prev, this.map);
    // The value is copied: the entry's bytes may be a view of a larger received chunk, and a
    // caller changing a value it read must not change the log.
    if (data[at] === OP_PUT) this.map.set(key, this.arena.store(key, data, valueAt, data.length));
    else this.map.delete(key);
    return { prev: prev ?? null };
  }

  /** Magic (u32), count (u32), then per pair: key length (u32), key, value length (u32), value. Keys sorted. */
  snapshot(): Uint8Array {
    const keys = this.keys();
    const parts: Uint8Array[] = [];
    let size = 8;
    for (const k of keys) {
      const kb = utf8.encode(k);
      const v = this.map.get(k) as Uint8Array;
      parts.push(kb, v);
      size += 8 + kb.length + v.length;
    }
    const out = new Uint8Array(size);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, SNAPSHOT_MAGIC);
    dv.setUint32(4, keys.length);
    let off = 8;
    for (const p of parts) {
      dv.setUint32(off, p.length);
      out.set(p, off + 4);
      off += 4 + p.length;
    }
    return out;
  }

  restore(data: Uint8Array): void {
    const map = new Map<string, Uint8Array>();
    const arena = new ValueArena();
    if (data.length === 0) {
      this.map = map;
      this.arena = arena;
      return;
    }
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (data.length < 8 || dv.getUint32(0) !== SNAPSHOT_MAGIC) throw corrupt('snapshot');
    const count = dv.getUint32(4);
    let off = 8;
    /** The next length-prefixed field: its bounds in `data`. */
    const next = (): [number, number] => {
      if (off + 4 > data.length) throw corrupt('snapshot');
      const n = dv.getUint32(off);
      if (off + 4 + n > data.length) throw corrupt('snapshot');
      const at = off + 4;
      off += 4 + n;
      return [at, at + n];
    };
    for (let i = 0; i < count; i++) {
      const [klo, khi] = next();
      let key: string;
      try {
        key = utf8d.decode(data.subarray(klo, khi));
      } catch (err) {
        throw new RaftwireError(ErrorCode.CORRUPT, 'snapshot key is not UTF-8', { cause: err });
      }
      const [vlo, vhi] = next();
      const old = map.get(key);
      if (old !== undefined) arena.release(key, old, map);
      map.set(key, arena.store(key, data, vlo, vhi));
    }
    if (off !== data.length) throw corrupt('snapshot');
    this.map = map;
    this.arena = arena;
  }
}
