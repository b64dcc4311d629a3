/**
 * A stream dial (`GET`, no request body) over a plain TCP or a TLS socket, its response read without
 * node's HTTP parser: that parser copies every body piece into a new Buffer (`Buffer::Copy` in its
 * `on_body`), which on a msgapp stream cost as much CPU as everything else the receiver does
 * (docs/http.md). Here the response head is parsed once, and the body's chunked framing is
 * undone in place: every chunk handed out is a view of one socket read, memory node allocates
 * fresh per read and never reuses, over TCP and over TLS (where each decrypted piece is copied
 * into a fresh allocation: chunk-ownership.test.ts), so the msgapp decoder's views of it stay
 * valid.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { type LinkHeaders, type LinkResponse, type RaftwireError, onAbort, plainBytes } from '@raftwire/core';
import { abortedError, asLinkError, linkError, linkTimeoutError } from '../link-errors.js';
import { ReadAhead, listenBody } from './read-ahead.js';

/** Cap on a response head. */
const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk size with more hex digits than this is refused (2^48 bytes). */
const MAX_CHUNK_SIZE_DIGITS = 12;

export interface RawStreamRequest {
  url: URL;
  path: string;
  headers: Record<string, string>;
  dialTimeoutMs: number;
  signal?: AbortSignal | undefined;
  target: string;
  /** Registers `fail` to be called when the link closes; returns the unregister. */
  track(fail: (err: RaftwireError) => void): () => void;
  /** For `https:` URLs: the TLS settings the link's https agents use (CA, client certificate, verification). */
  tls?: tls.ConnectionOptions | undefined;
}

/** The socket for a dial: TCP for `http:`, TLS for `https:` (SNI from the host name unless it is an address). */
function dial(req: RawStreamRequest): net.Socket {
  const host = req.url.hostname.replace(/^\[|\]$/g, '');
  if (req.url.protocol !== 'https:') return net.connect({ host, port: Number(req.url.port || 80) });
  const sni = req.tls?.servername === undefined && net.isIP(host) === 0 ? { servername: host } : {};
  return tls.connect({ ...req.tls, ...sni, host, port: Number(req.url.port || 443) });
}

const ECONNRESET = (): Error => Object.assign(new Error('aborted'), { code: 'ECONNRESET' });

/** Body framing: chunked, a known length, or up to the connection's close. */
export type Framing = { kind: 'chunked' } | { kind: 'length'; left: number } | { kind: 'close' };

// Chunked decoder states.
const SIZE = 0;
const SIZE_EXT = 1;
const DATA = 2;
const DATA_CR = 3;
const DATA_LF = 4;
const TRAILER = 5;
const TRAILER_LINE = 6;
const DONE = 7;

/** Undoes chunked framing (or counts a length) over socket reads, handing out views of them. */
export class BodyDecoder {
  private state = SIZE;
  private size = 0;
  private digits = 0;
  private left: number;

  constructor(readonly framing: Framing) {
    this.left = framing.kind === 'length' ? framing.left : 0;
    if (framing.kind === 'length' && this.left === 0) this.state = DONE;
  }

  get done(): boolean {
    return this.state === DONE;
  }

  /** Feeds one read; calls `out` with each piece of body in it. Throws on malformed framing. */
  feed(d: Buffer, out: (piece: Uint8Array) => void): void {
    if (this.state === DONE || d.length === 0) return;
    if (this.framing.kind === 'close') {
      out(plainBytes(d));
      return;
    }
    if (this.framing.kind === 'length') {
      const take = Math.min(this.left, d.length);
      out(plainBytes(take === d.length ? d : d.subarray(0, take)));
      this.left -= take;
      if (this.left === 0) this.state = DONE;
      return;
    }
    let i = 0;
    while (i < d.length && this.state !== DONE) {
      if (this.state === DATA) {
        const take = Math.min(this.left, d.length - i);
        out(new Uint8Array(d.buffer, d.byteOffset + i, take));
        i += take;
        this.left -= take;
        if (this.left === 0) this.state = DATA_CR;
        continue;
      }
      const b = d[i++] as number;
      switch (this.state) {
        case SIZE: {
          const v = hexValue(b);
          if (v >= 0) {
            if (++this.digits > MAX_CHUNK_SIZE_DIGITS) throw new Error('chunk size too large');
            this.size = this.size * 16 + v;
          } else if (this.digits === 0) {
            throw new Error('malformed chunk size');
          } else if (b === 0x0a) {
            this.endSizeLine();
          } else {
            this.state = SIZE_EXT; // ";ext", whitespace or the CR before LF
          }
          break;
        }
        case SIZE_EXT:
          if (b === 0x0a) this.endSizeLine();
          break;
        case DATA_CR:
          if (b === 0x0d) this.state = DATA_LF;
          else if (b === 0x0a) this.state = SIZE;
          else throw new Error('malformed chunk end');
          break;
        case DATA_LF:
          if (b !== 0x0a) throw new Error('malformed chunk end');
          this.state = SIZE;
          break;
        case TRAILER:
          if (b === 0x0a) this.state = DONE;
          else if (b !== 0x0d) this.state = TRAILER_LINE;
          break;
        case TRAILER_LINE:
          if (b === 0x0a) this.state = TRAILER;
          break;
      }
    }
  }

  private endSizeLine(): void {
    this.left = this.size;
    this.size = 0;
    this.digits = 0;
    this.state = this.left === 0 ? TRAILER : DATA;
  }
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

/** Status, headers and framing of a response head (the bytes before the blank line). */
function parseHead(text: string): { status: number; headers: LinkHeaders; framing: Framing } {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (m === null) throw new Error(`malformed status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: LinkHeaders = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const status = Number(m[1]);
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  let framing: Framing;
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) framing = { kind: 'length', left: 0 };
  else if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) framing = { kind: 'chunked' };
  else if (cl !== undefined) {
    if (!/^\d{1,15}$/.test(cl)) throw new Error(`malformed content-length ${JSON.stringify(cl.slice(0, 40))}`);
    framing = { kind: 'length', left: Number(cl) };
  } else framing = { kind: 'close' };
  return { status, headers, framing };
}

function requestHead(req: RawStreamRequest): string {
  let head = `GET ${req.path} HTTP/1.1\r\nHost: ${req.url.host}\r\n`;
  for (const [name, value] of Object.entries(req.headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new Error(`header ${JSON.stringify(name)} holds a line break`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}Connection: close\r\n\r\n`;
}

/**
 * Opens the stream: resolves with the response once its head arrived within `dialTimeoutMs`.
 * Errors as NodeHttpLink's: ERR_LINK (refused, reset, malformed response, dial timeout with an
 * ERR_TIMEOUT cause), ERR_ABORTED (the signal, or the link closed).
 */
export function openRawStream(req: RawStreamRequest): Promise<LinkResponse> {
  const { target } = req;
  return new Promise<LinkResponse>((resolve, reject) => {
    let head: string;
    try {
      head = requestHead(req);
    } catch (err) {
      reject(asLinkError(target, err));
      return;
    }
    const socket = dial(req);
    socket.setNoDelay(true);
    let failure: RaftwireError | undefined;
    let responded = false;
    let wakeBody: (() => void) | null = null;
    const timer = setTimeout(() => fail(linkTimeoutError('dial', req.dialTimeoutMs, target)), req.dialTimeoutMs);
    const untrack = req.track((err) => fail(err));
    const disposeAbort = onAbort(req.signal, () => fail(abortedError(target, req.signal?.reason)));
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      disposeAbort();
      untrack();
    };
    const fail = (err: RaftwireError): void => {
      if (failure !== undefined) return;
      failure = err;
      done();
      socket.destroy();
      const w = wakeBody;
      wakeBody = null;
      w?.();
      if (!responded) {
        responded = true;
        reject(err);
      }
    };
    socket.on('error', (err) => fail(asLinkError(target, err)));
    socket.once('close', () => {
      if (!responded) fail(asLinkError(target, ECONNRESET()));
    });

    let pending: Buffer | null = null;
    const onHead = (d: Buffer): void => {
      let all = pending === null ? d : Buffer.concat([pending, d]);
      let from = Math.max(0, (pending?.length ?? 0) - 3);
      let end: number;
      let parsed: ReturnType<typeof parseHead>;
      for (;;) {
        end = all.indexOf('\r\n\r\n', from, 'latin1');
        if (end === -1) {
          if (all.length > MAX_HEAD_BYTES) fail(linkError(`${target}: response head over ${MAX_HEAD_BYTES} bytes`));
          // A copy: `all` may be (a view of) `d`, and the head's bytes are re-read with the next read.
          else pending = Buffer.from(all);
          return;
        }
        try {
          parsed = parseHead(all.toString('latin1', 0, end));
        } catch (err) {
          fail(linkError(`${target}: ${(err as Error).message}`, err));
          return;
        }
        // An interim response (100 Continue, 103 Early Hints) precedes the real one: skip it.
        if (parsed.status < 100 || parsed.status >= 200 || parsed.status === 101) break;
        all = all.subarray(end + 4);
        from = 0;
        pending = null;
      }
      socket.off('data', onHead);
      responded = true;
      clearTimeout(timer);
      const rest = all.subarray(end + 4);
      resolve({
        status: parsed.status,
        headers: parsed.headers,
        body: rawBody(
          socket,
          new BodyDecoder(parsed.framing),
          rest,
          () => failure,
          (w) => (wakeBody = w),
          done,
          target,
        ),
      });
    };
    socket.on('data', onHead);
    socket.write(head);
  });
}

/**
 * The body as chunks off the socket, through a {@link ReadAhead} (paused past its limit). The socket's listeners are attached at once (before the reader's first
 * `next()`), so nothing that arrives meanwhile is lost.
 */
function rawBody(
  socket: net.Socket,
  decoder: BodyDecoder,
  first: Buffer,
  failure: () => RaftwireError | undefined,
  onWake: (wake: (() => void) | null) => void,
  done: () => void,
  target: string,
): AsyncGenerator<Uint8Array, void, undefined> {
  const ahead = new ReadAhead<Uint8Array>(socket);
  let ended = false;
  let error: unknown;
  const notify = (): void => {
    onWake(null);
    ahead.notify();
  };
  const push = (piece: Uint8Array): void => ahead.push(piece);
  const onData = (d: Buffer): void => {
    try {
      decoder.feed(d, push);
    } catch (err) {
      error ??= err;
    }
    if (decoder.done) {
      // The body is complete: the connection is done with (a server closing waits for it).
      ended = true;
      socket.destroy();
    }
    notify();
  };
  const onEnd = (): void => {
    if (decoder.done || decoder.framing.kind === 'close') ended = true;
    else error ??= ECONNRESET();
    notify();
  };
  const onError = (err: unknown): void => {
    error ??= err;
    notify();
  };
  const onClose = (): void => {
    if (!ended) error ??= ECONNRESET();
    notify();
  };
  onData(first);
  const unlisten = listenBody(socket, { data: onData, end: onEnd, error: onError, close: onClose });
  return (async function* (): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      for (;;) {
        const c = ahead.shift();
        if (c !== undefined) {
          const f = failure();
          if (f !== undefined) throw f;
          yield c;
          continue;
        }
        const f = failure();
        if (f !== undefined) throw f;
        if (error !== undefined) throw error;
        if (ended) break;
        onWake(() => ahead.notify());
        await ahead.wait();
      }
    } catch (err) {
      throw failure() ?? asLinkError(`${target} response body`, err);
    } finally {
      unlisten();
      // A stream's connection is never reused: closed whether the body completed or not.
      socket.destroy();
      done();
    }
  })();
}
