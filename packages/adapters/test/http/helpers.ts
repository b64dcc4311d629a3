import { createHash } from 'node:crypto';
import { type HandlerRequest, type HandlerResponse, type Link, type ProtocolHandler, concatBytes } from '@raftwire/core';
import { FetchLink, type FetchLinkOptions } from '../../src/http/index.js';
import {
  NodeHttpLink,
  type NodeHttpLinkOptions,
  type RaftServer,
  type RaftServerOptions,
  startRaftServer,
} from '../../src/http/node/index.js';

/** Both clients, for tests that must hold for each. */
export const clients: Array<[name: string, make: (opts?: FetchLinkOptions & NodeHttpLinkOptions) => Link]> = [
  ['fetch', (opts) => new FetchLink(opts)],
  ['node:http', (opts) => new NodeHttpLink(opts)],
];

/** Servers and links opened by a test; `closeAll()` in afterEach. */
export class Resources {
  private readonly servers: RaftServer[] = [];
  private readonly links: Link[] = [];
  private readonly cleanups: Array<() => void | Promise<void>> = [];

  async server(handler: ProtocolHandler, opts: Partial<RaftServerOptions> = {}): Promise<RaftServer> {
    const s = await startRaftServer({ ...opts, handler });
    this.servers.push(s);
    return s;
  }

  link<T extends Link>(link: T): T {
    this.links.push(link);
    return link;
  }

  defer(fn: () => void | Promise<void>): void {
    this.cleanups.push(fn);
  }

  async closeAll(): Promise<void> {
    for (const l of this.links.splice(0)) await l.close?.();
    const force = new AbortController();
    const t = setTimeout(() => force.abort(), 2000);
    await Promise.all(this.servers.splice(0).map((s) => s.close({ signal: force.signal })));
    clearTimeout(t);
    for (const c of this.cleanups.splice(0)) await c();
  }
}

export async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of body) parts.push(c);
  return concatBytes(parts);
}

export async function readText(body: AsyncIterable<Uint8Array>): Promise<string> {
  return new TextDecoder().decode(await readAll(body));
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls `cond` until true; fails with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Captures the error a promise rejects with (fails if it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/**
 * Deterministic, varied chunks without allocating per chunk: views into a
 * fixed random pattern at shifting offsets. Hashes what it yields.
 */
export function patternSource(totalBytes: number, chunkBytes = 64 * 1024): { source: AsyncIterable<Uint8Array>; digest: () => string } {
  const pattern = new Uint8Array(chunkBytes * 2);
  let x = 0x9e3779b9;
  for (let i = 0; i < pattern.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    pattern[i] = x & 0xff;
  }
  const hash = createHash('sha256');
  let digest: string | undefined;
  const source = {
    async *[Symbol.asyncIterator]() {
      let sent = 0;
      let i = 0;
      while (sent < totalBytes) {
        const n = Math.min(chunkBytes, totalBytes - sent);
        const off = (i++ * 7919) % chunkBytes;
        const chunk = pattern.subarray(off, off + n);
        hash.update(chunk);
        sent += n;
        yield chunk;
      }
      digest = hash.digest('hex');
    },
  };
  return {
    source,
    digest: () => {
      if (digest === undefined) throw new Error('source not finished');
      return digest;
    },
  };
}

/** Consumes a body, returning its length and sha256, holding no more than one chunk. */
export async function hashBody(body: AsyncIterable<Uint8Array>): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let n = 0;
  for await (const c of body) {
    hash.update(c);
    n += c.byteLength;
  }
  return { bytes: n, sha256: hash.digest('hex') };
}

export function json(status: number, value: unknown): HandlerResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: bytes(JSON.stringify(value)) };
}

/**
 * A stream body under the test's control: `push()` makes the next chunk
 * available; records `return()` calls; ends when the request's signal fires.
 */
export class ControlledStream implements AsyncIterable<Uint8Array> {
  readonly returned = deferred();
  returnCalls = 0;
  private queue: Uint8Array[] = [];
  private waiting: ((r: IteratorResult<Uint8Array>) => void) | undefined;
  private ended = false;

  constructor(signal?: AbortSignal) {
    signal?.addEventListener('abort', () => this.end(), { once: true });
  }

  push(chunk: Uint8Array): void {
    if (this.waiting !== undefined) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ done: false, value: chunk });
    } else this.queue.push(chunk);
  }

  end(): void {
    this.ended = true;
    const w = this.waiting;
    this.waiting = undefined;
    w?.({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => {
        const c = this.queue.shift();
        if (c !== undefined) return Promise.resolve({ done: false, value: c });
        if (this.ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => {
          this.waiting = resolve;
        });
      },
      return: () => {
        this.returnCalls++;
        this.end();
        this.returned.resolve();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
}

/** Records the requests a handler saw. */
export type Seen = HandlerRequest[];
