/**
 * JSON requests to a member's client API over node:http, with the socket
 * error kept so callers can tell "never reached the member" from "may have".
 */
import * as http from 'node:http';

export type ApiAnswer =
  | { kind: 'response'; status: number; body: Record<string, unknown> }
  /**
   * No answer. `sent` is false only when the request provably never reached
   * the member (the connection was refused); everything else (reset, timeout,
   * abort) may have been processed.
   */
  | { kind: 'error'; code: string; sent: boolean };

export interface ApiRequest {
  method?: string;
  body?: string;
  signal?: AbortSignal;
  agent?: http.Agent;
  /** Extra request headers (e.g. an `authorization` bearer token). */
  headers?: Record<string, string>;
}

/**
 * A signal that aborts after `ms`, or when `parent` does; `dispose()` clears
 * the timer. (Not `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: Node
 * 20 may garbage-collect a timeout signal held only by `any()`, and the
 * request then never times out.)
 */
export function deadline(ms: number, parent?: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`timed out after ${ms} ms`)), ms);
  const onParent = (): void => ac.abort(parent?.reason);
  if (parent?.aborted) ac.abort(parent.reason);
  else parent?.addEventListener('abort', onParent, { once: true });
  return {
    signal: ac.signal,
    dispose: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParent);
    },
  };
}

/** Connection errors that prove the request was never delivered. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENOTFOUND']);

export function apiRequest(url: string, req: ApiRequest = {}): Promise<ApiAnswer> {
  return new Promise<ApiAnswer>((resolve) => {
    if (req.signal?.aborted) {
      resolve({ kind: 'error', code: 'ABORTED', sent: false });
      return;
    }
    let settled = false;
    const done = (a: ApiAnswer): void => {
      if (settled) return;
      settled = true;
      req.signal?.removeEventListener('abort', onAbort);
      resolve(a);
    };
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    const creq = http.request(url, { method: req.method ?? 'GET', headers, ...(req.agent ? { agent: req.agent } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err: NodeJS.ErrnoException) => done({ kind: 'error', code: err.code ?? 'ERESPONSE', sent: true }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown>;
        try {
          const parsed: unknown = JSON.parse(text);
          body = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : { raw: text };
        } catch {
          body = { raw: text };
        }
        done({ kind: 'response', status: res.statusCode ?? 0, body });
      });
    });
    const onAbort = (): void => {
      done({ kind: 'error', code: 'TIMEOUT', sent: true });
      creq.destroy();
    };
    req.signal?.addEventListener('abort', onAbort, { once: true });
    creq.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message;
      done({ kind: 'error', code, sent: !NOT_SENT.has(code) });
    });
    creq.end(req.body);
  });
}
