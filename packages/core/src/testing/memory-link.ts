import { ChildAbort, abortError, onAbort, raceAbort, sleep } from '../abort.js';
import { bodyChunks, bodyConsumedError, closeIterator } from '../body.js';
import { type Clock, systemClock } from '../clock.js';
import { ErrorCode, RaftwireError } from '../errors.js';
import type { Link, LinkHeaders, LinkRequest, LinkResponse, ProtocolHandler } from '../link.js';
import { seededRandom } from '../rand.js';
import { serveRequest } from '../serve.js';

export { seededRandom };

/**
 * Faults on the path from one endpoint to another (one direction).
 * Endpoints are named by their URL.
 */
export interface MemoryFault {
  /** Refuse new connections (ERR_LINK) and reset open ones, like a closed port or a RST. */
  cut?: boolean;
  /** Packets vanish: new connections hang until their signal aborts, open ones stall (half-open). */
  blackhole?: boolean;
  /** Probability in [0, 1] that a new request or stream is lost (fails with ERR_LINK). Seeded. */
  dropRate?: number;
  /** One-way latency added to the connection set-up and to every chunk, in ms. */
  delayMs?: number;
  /** Uniform extra latency in [0, jitterMs), seeded; chunk order is kept. */
  jitterMs?: number;
  /** Bytes per second on each connection in this direction (each connection has its own budget, like separate TCP flows). */
  bandwidth?: number;
}

export interface MemoryNetworkOptions {
  /** Seed of the fault RNG (drops, jitter). */
  seed?: number;
  clock?: Clock;
  /** Largest chunk moved at once; bigger chunks are split (paces bandwidth). 64 KiB. */
  maxChunkBytes?: number;
  /** Bytes buffered per connection direction before the sender waits (a TCP window). 256 KiB. */
  windowBytes?: number;
}

function endpointKey(url: string): string {
  return url.replace(/\/+$/, '');
}

function linkError(message: string): RaftwireError {
  return new RaftwireError(ErrorCode.LINK, message);
}

interface Connection {
  from: string;
  to: string;
  reset(err: RaftwireError): void;
}

type Item = { chunk: Uint8Array; at: number } | { end: true; error?: RaftwireError };

/** One direction of one connection: pumps a source into a consumer, applying faults. */
class Pipe implements AsyncIterable<Uint8Array> {
  private readonly items: Item[] = [];
  private queuedBytes = 0;
  private notifyConsumer: (() => void) | null = null;
  private notifyProducer: (() => void) | null = null;
  private nextFree = 0;
  private lastAt = 0;
  private done = false;
  private source: AsyncIterator<Uint8Array> | null = null;
  private iterated = false;

  constructor(
    private readonly net: MemoryNetwork,
    private readonly from: string,
    private readonly to: string,
    src: AsyncIterable<Uint8Array>,
    private readonly signal: AbortSignal,
  ) {
    void this.pump(src);
  }

  private push(item: Item): void {
    this.items.push(item);
    const n = this.notifyConsumer;
    this.notifyConsumer = null;
    n?.();
  }

  private async pump(src: AsyncIterable<Uint8Array>): Promise<void> {
    const clock = this.net.clock;
    try {
      this.source = src[Symbol.asyncIterator]();
      for (;;) {
        const r = await raceAbort(this.source.next(), this.signal);
        if (r.done) break;
        let chunk = r.value;
        while (chunk.length > 0) {
          const piece = chunk.subarray(0, this.net.maxChunkBytes);
          chunk = chunk.subarray(piece.length);
          const fault = await this.net.gate(this.from, this.to, this.signal);
          if (this.done) return;
          if (fault.bandwidth !== undefined && fault.bandwidth > 0) {
            const now = clock.now();
            this.nextFree = Math.max(now, this.nextFree) + (piece.length / fault.bandwidth) * 1000;
            if (this.nextFree - now >= 1) await sleep(clock, this.nextFree - now, this.signal);
          }
          const at = Math.max(this.lastAt, clock.now() + this.net.latency(fault));
          this.lastAt = at;
          this.queuedBytes += piece.length;
          this.push({ chunk: piece, at });
          while (this.queuedBytes > this.net.windowBytes && !this.done) {
            await raceAbort(
              new Promise<void>((resolve) => {
                this.notifyProducer = resolve;
              }),
              this.signal,
            );
          }
          if (this.done) return;
        }
      }
      this.push({ end: true });
    } catch (err) {
      if (this.done) return;
      const e = this.signal.aborted
        ? abortError(this.signal.reason)
        : linkError(`peer's body failed: ${err instanceof Error ? err.message : String(err)}`);
      this.push({ end: true, error: e });
      this.net.resetConnectionOf(this, e);
    }
  }

  /** Stops pumping and releases the source. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    const p = this.notifyProducer;
    this.notifyProducer = null;
    p?.();
    const n = this.notifyConsumer;
    this.notifyConsumer = null;
    n?.();
    closeIterator(this.source ?? undefined);
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterated) throw bodyConsumedError();
    this.iterated = true;
    const clock = this.net.clock;
    return {
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        for (;;) {
          if (this.signal.aborted) throw abortError(this.signal.reason);
          const item = this.items[0];
          if (item !== undefined) {
            if ('end' in item) {
              if (item.error) throw item.error;
              return { done: true, value: undefined };
            }
            const wait = item.at - clock.now();
            if (wait >= 1) {
              await sleep(clock, wait, this.signal);
              continue;
            }
            this.items.shift();
            this.queuedBytes -= item.chunk.length;
            const p = this.notifyProducer;
            this.notifyProducer = null;
            p?.();
            return { done: false, value: item.chunk };
          }
          if (this.done) return { done: true, value: undefined };
          await raceAbort(
            new Promise<void>((resolve) => {
              this.notifyConsumer = resolve;
            }),
            this.signal,
          );
        }
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        this.net.closeConnectionOf(this);
        return { done: true, value: undefined };
      },
    };
  }
}

/**
 * An in-process network: servers register a ProtocolHandler at a URL, and
 * each member gets a {@link MemoryLink} named by its own URL. Faults are set
 * per direction between URLs and are seeded, so a failing run replays.
 */
export class MemoryNetwork {
  readonly clock: Clock;
  readonly maxChunkBytes: number;
  readonly windowBytes: number;
  private readonly random: () => number;
  private readonly handlers = new Map<string, ProtocolHandler>();
  private readonly faults = new Map<string, MemoryFault>();
  private readonly conns = new Set<Connection>();
  private readonly pipeConn = new Map<Pipe, { conn: Connection; close(): void }>();
  private changeWaiters: (() => void)[] = [];
  /** Requests and streams opened so far. */
  opened = 0;

  constructor(options: MemoryNetworkOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.random = seededRandom(options.seed ?? 1);
    this.maxChunkBytes = options.maxChunkBytes ?? 64 * 1024;
    this.windowBytes = options.windowBytes ?? 256 * 1024;
  }

  /** Serves `handler` at `url`; returns a function that stops serving (and resets its connections). */
  serve(url: string, handler: ProtocolHandler): () => void {
    const key = endpointKey(url);
    this.handlers.set(key, handler);
    return () => {
      if (this.handlers.get(key) === handler) this.handlers.delete(key);
      this.dropConnections(key);
    };
  }

  /** The client side for the endpoint whose own URL is `from`. */
  link(from: string): MemoryLink {
    return new MemoryLink(this, endpointKey(from));
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.conns.size;
  }

  /** Sets the fault from `from` to `to` (`*` matches any endpoint). Replaces the previous one. */
  setFault(from: string, to: string, fault: MemoryFault): void {
    this.faults.set(`${endpointKey(from)}>${endpointKey(to)}`, fault);
    this.changed();
    if (fault.cut) this.resetWhere((c) => this.matches(from, to, c), linkError('connection reset by fault'));
  }

  clearFault(from: string, to: string): void {
    this.faults.delete(`${endpointKey(from)}>${endpointKey(to)}`);
    this.changed();
  }

  /** Removes every fault. */
  heal(): void {
    this.faults.clear();
    this.changed();
  }

  /** Cuts both directions between `a` and `b`. */
  cut(a: string, b: string): void {
    this.setFault(a, b, { cut: true });
    this.setFault(b, a, { cut: true });
  }

  mend(a: string, b: string): void {
    this.clearFault(a, b);
    this.clearFault(b, a);
  }

  /** Blackholes every path between the two groups, both ways. */
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.faults.set(`${endpointKey(a)}>${endpointKey(b)}`, { blackhole: true });
        this.faults.set(`${endpointKey(b)}>${endpointKey(a)}`, { blackhole: true });
      }
    }
    this.changed();
  }

  /** Blackholes packets from `from` to `to` only. */
  partitionOneWay(from: string, to: string): void {
    this.setFault(from, to, { blackhole: true });
  }

  /** Resets every open connection to or from `url` (all when omitted), like httptest's CloseClientConnections. */
  dropConnections(url?: string): void {
    const key = url === undefined ? undefined : endpointKey(url);
    this.resetWhere((c) => key === undefined || c.to === key || c.from === key, linkError('connection reset by peer'));
  }

  /** Resets everything and forgets every server. */
  close(): void {
    this.handlers.clear();
    this.faults.clear();
    this.resetWhere(() => true, linkError('network closed'));
    this.changed();
  }

  private matches(from: string, to: string, c: Connection): boolean {
    const f = endpointKey(from);
    const t = endpointKey(to);
    const hit = (x: string, y: string) => (f === '*' || f === x) && (t === '*' || t === y);
    return hit(c.from, c.to) || hit(c.to, c.from);
  }

  private resetWhere(pred: (c: Connection) => boolean, err: RaftwireError): void {
    for (const c of [...this.conns]) if (pred(c)) c.reset(err);
  }

  private changed(): void {
    const w = this.changeWaiters;
    this.changeWaiters = [];
    for (const fn of w) fn();
  }

  /** The fault from `from` to `to`: the exact pair, else `from>*`, else `*>to`, else `*>*`. */
  fault(from: string, to: string): MemoryFault {
    return this.faults.get(`${from}>${to}`) ?? this.faults.get(`${from}>*`) ?? this.faults.get(`*>${to}`) ?? this.faults.get('*>*') ?? {};
  }

  /** @internal Latency of one chunk. */
  latency(f: MemoryFault): number {
    return (f.delayMs ?? 0) + (f.jitterMs ? this.random() * f.jitterMs : 0);
  }

  /** @internal Waits while the path is blackholed; throws ERR_LINK when cut. */
  async gate(from: string, to: string, signal: AbortSignal): Promise<MemoryFault> {
    for (;;) {
      const f = this.fault(from, to);
      if (f.cut) throw linkError('connection reset by fault');
      if (!f.blackhole) return f;
      let waiter: (() => void) | undefined;
      try {
        await raceAbort(
          new Promise<void>((resolve) => {
            waiter = resolve;
            this.changeWaiters.push(resolve);
          }),
          signal,
        );
      } finally {
        const i = waiter ? this.changeWaiters.indexOf(waiter) : -1;
        if (i >= 0) this.changeWaiters.splice(i, 1);
      }
    }
  }

  /** @internal */
  resetConnectionOf(pipe: Pipe, err: RaftwireError): void {
    this.pipeConn.get(pipe)?.conn.reset(err);
  }

  /** @internal */
  closeConnectionOf(pipe: Pipe): void {
    this.pipeConn.get(pipe)?.close();
  }

  /** @internal One request or stream from `from` to `url`. */
  async connect(from: string, url: string, req: LinkRequest): Promise<LinkResponse> {
    const to = endpointKey(url);
    if (req.signal?.aborted) throw abortError(req.signal.reason);
    const conn = new ChildAbort(req.signal);
    const cleanup: (() => void)[] = [];
    let closed = false;
    const pipes: Pipe[] = [];
    const connection: Connection = {
      from,
      to,
      reset: (err) => {
        if (closed) return;
        close(err);
      },
    };
    const close = (err?: RaftwireError): void => {
      if (closed) return;
      closed = true;
      this.conns.delete(connection);
      conn.abort(err ?? linkError('connection closed'));
      for (const p of pipes) {
        p.cancel();
        this.pipeConn.delete(p);
      }
      for (const fn of cleanup) fn();
    };
    cleanup.push(onAbort(req.signal, () => close(abortError(req.signal?.reason))));
    try {
      const f = this.fault(from, to);
      if (f.cut) throw linkError(`connection refused by fault (${from} -> ${to})`);
      if (f.dropRate !== undefined && f.dropRate > 0 && this.random() < f.dropRate) throw linkError(`connection lost (${from} -> ${to})`);
      const handler = this.handlers.get(to);
      if (!handler) throw linkError(`connection refused: nothing serves ${to}`);
      await this.gate(from, to, conn.signal);
      await this.gate(to, from, conn.signal);
      const setup = this.latency(f) + this.latency(this.fault(to, from));
      if (setup >= 1) await sleep(this.clock, setup, conn.signal);
      this.conns.add(connection);
      this.opened++;
      const reqPipe = new Pipe(this, from, to, bodyChunks(req.body), conn.signal);
      pipes.push(reqPipe);
      this.pipeConn.set(reqPipe, { conn: connection, close: () => close() });
      const headers: LinkHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
      // The requester may give up before the handler answers; the handler's answer is then closed unread.
      const served = serveRequest(
        handler,
        { method: req.method, path: req.path, headers, body: reqPipe, signal: conn.signal, remoteAddress: from },
        { gone: () => conn.signal.aborted },
      );
      const res = await raceAbort(served, conn.signal);
      if (res === undefined) throw linkError('connection closed');
      const resPipe = new Pipe(this, to, from, bodyChunks(res.body), conn.signal);
      pipes.push(resPipe);
      this.pipeConn.set(resPipe, { conn: connection, close: () => close() });
      const body = resPipe[Symbol.asyncIterator]();
      const wrapped: AsyncIterable<Uint8Array> = {
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            try {
              const r = await body.next();
              if (r.done) close();
              return r;
            } catch (err) {
              close();
              throw conn.signal.aborted && conn.signal.reason instanceof RaftwireError ? conn.signal.reason : err;
            }
          },
          return: async () => {
            close();
            return { done: true, value: undefined };
          },
        }),
      };
      return { status: res.status, headers: { ...res.headers }, body: wrapped };
    } catch (err) {
      close(err instanceof RaftwireError ? err : linkError(String(err)));
      if (conn.signal.aborted && conn.signal.reason instanceof RaftwireError) throw conn.signal.reason;
      throw err instanceof RaftwireError ? err : linkError(String(err));
    }
  }
}

/** The client side of one endpoint of a {@link MemoryNetwork}. */
export class MemoryLink implements Link {
  constructor(
    readonly network: MemoryNetwork,
    /** This endpoint's own URL (its identity for faults). */
    readonly from: string,
  ) {}

  request(url: string, req: LinkRequest): Promise<LinkResponse> {
    return this.network.connect(this.from, url, req);
  }

  openStream(url: string, req: LinkRequest): Promise<LinkResponse> {
    return this.network.connect(this.from, url, req);
  }

  close(): void {
    this.network.dropConnections(this.from);
  }
}
