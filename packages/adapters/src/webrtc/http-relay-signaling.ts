import { ContentType, ErrorCode, Header, RaftwireError, formatId, onAbort } from '@raftwire/core';
import type { Id } from '@raftwire/core';
import { type SignalMessage, type Signaling, type SignalingEndpoint, type SignalingJoinOptions, parseSignalJson } from './signaling.js';

/**
 * Paths of the HTTP signalling relay, under its prefix (default `/raft-signal`):
 *
 * - `POST {prefix}/join` `{clusterId, memberId, credential?}` → `200 {token}`,
 *   or 401 `ERR_SIGNAL_REJECTED` when the relay has a key and the credential
 *   (`signalingCredential(relayKey, clusterId, memberId)`) is missing or wrong;
 * - `GET {prefix}/events?token=…` → `text/event-stream`, one `data:` line of
 *   signal JSON per event (the member is registered while this is open);
 * - `POST {prefix}/send` with `Authorization: Bearer <token>`, body = signal
 *   JSON → `204`, or `{code, message}` with 400 (malformed), 401 (unknown
 *   token), 403 (cluster mismatch, forged `from`) or 404 (unknown `to`);
 * - `POST {prefix}/leave` with the bearer token → `204`.
 *
 * Why Server-Sent Events: signalling is a trickle of small messages pushed to
 * a member, and a browser member can only make outgoing HTTP requests. SSE is
 * plain HTTP/1.1 that `node:http` serves with no dependency and that `fetch`
 * reads as a stream in browsers and Node alike (no `EventSource` needed, so
 * the token stays out of cookies); messages arrive the moment they are sent,
 * unlike long-polling, which pays a request per batch, and without a
 * WebSocket server, which Node 20 does not ship.
 */
export const DEFAULT_RELAY_PREFIX = '/raft-signal';

/** The relay's endpoints, under its prefix (client and server take them from here). */
export const RelayRoute = { join: '/join', events: '/events', send: '/send', leave: '/leave' } as const;

export interface HttpRelaySignalingOptions {
  /** The relay's base URL including its prefix, e.g. `http://127.0.0.1:2380/raft-signal`. */
  baseUrl: string;
  /**
   * The join credential the relay wants (`signalingCredential(relayKey, clusterId, memberId)`),
   * or a function giving it per member (one HttpRelaySignaling can serve several members of a page).
   * Omit only for a relay created with `insecure: true`.
   */
  credential?: string | ((memberId: Id) => string | Promise<string>);
  /** Injected fetch (default: the global). */
  fetch?: typeof fetch;
}

interface RelayErrorBody {
  code?: unknown;
  message?: unknown;
}

async function relayError(res: Response, what: string): Promise<RaftwireError> {
  let body: RelayErrorBody = {};
  try {
    body = (await res.json()) as RelayErrorBody;
  } catch {
    // not JSON
  }
  const known = (Object.values(ErrorCode) as string[]).includes(String(body.code));
  const code = known ? (body.code as ErrorCode) : ErrorCode.LINK;
  const message = typeof body.message === 'string' ? body.message : `relay answered ${res.status}`;
  return new RaftwireError(code, `${what}: ${message}`);
}

function linkError(what: string, err: unknown): RaftwireError {
  if (err instanceof RaftwireError) return err;
  if (err instanceof Error && err.name === 'AbortError') return new RaftwireError(ErrorCode.ABORTED, `${what} aborted`);
  return new RaftwireError(ErrorCode.LINK, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/**
 * Signalling through an HTTP relay that a Node member serves beside its raft
 * handler; used by browser members (works in Node too). Isomorphic: only
 * `fetch` and web streams.
 */
export class HttpRelaySignaling implements Signaling {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;
  private readonly credential: HttpRelaySignalingOptions['credential'];

  constructor(options: HttpRelaySignalingOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.credential = options.credential;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async join(options: SignalingJoinOptions): Promise<SignalingEndpoint> {
    const init = options.signal === undefined ? {} : { signal: options.signal };
    let token: string;
    try {
      const c = this.credential;
      const credential = typeof c === 'function' ? await c(options.memberId) : c;
      const res = await this.fetch(`${this.baseUrl}${RelayRoute.join}`, {
        method: 'POST',
        headers: { [Header.contentType]: ContentType.json },
        body: JSON.stringify({
          clusterId: formatId(options.clusterId),
          memberId: formatId(options.memberId),
          ...(credential === undefined ? {} : { credential }),
        }),
        ...init,
      });
      if (!res.ok) throw await relayError(res, 'join refused');
      const body = (await res.json()) as { token?: unknown };
      if (typeof body.token !== 'string') throw new RaftwireError(ErrorCode.DECODE, 'relay join answer has no token');
      token = body.token;
    } catch (err) {
      throw linkError('join', err);
    }

    const events = new AbortController();
    const disposeAbort = onAbort(options.signal, () => events.abort());
    let res: Response;
    try {
      res = await this.fetch(`${this.baseUrl}${RelayRoute.events}?token=${encodeURIComponent(token)}`, {
        headers: { accept: 'text/event-stream' },
        signal: events.signal,
      });
      if (!res.ok || res.body === null) throw await relayError(res, 'event stream refused');
    } catch (err) {
      throw linkError('event stream', err);
    } finally {
      disposeAbort();
    }
    void readEvents(res.body, options.onSignal).catch(() => {
      // The stream ends when the endpoint closes or the relay goes away; sends then fail with ERR_LINK.
    });

    let closed = false;
    const auth = { authorization: `Bearer ${token}` };
    // Sends go one at a time: parallel POSTs could overtake each other, and the session logic relies on per-sender order.
    let queue: Promise<unknown> = Promise.resolve();
    const sendNow = async (message: SignalMessage, opts?: { signal?: AbortSignal }): Promise<void> => {
      if (closed) throw new RaftwireError(ErrorCode.LINK, 'signalling endpoint closed');
      let r: Response;
      try {
        r = await this.fetch(`${this.baseUrl}${RelayRoute.send}`, {
          method: 'POST',
          headers: { ...auth, [Header.contentType]: ContentType.json },
          body: JSON.stringify(message),
          ...(opts?.signal === undefined ? {} : { signal: opts.signal }),
        });
      } catch (err) {
        throw linkError('signal send', err);
      }
      if (r.status !== 204) throw await relayError(r, 'signal rejected');
    };
    return {
      memberId: options.memberId,
      send: (message: SignalMessage, opts?: { signal?: AbortSignal }) => {
        const p = queue.then(() => sendNow(message, opts));
        queue = p.catch(() => {});
        return p;
      },
      close: () => {
        if (closed) return;
        closed = true;
        events.abort();
        this.fetch(`${this.baseUrl}${RelayRoute.leave}`, { method: 'POST', headers: auth }).then(
          (r) => r.body?.cancel(),
          () => {},
        );
      },
    };
  }
}

/** Reads an SSE body: each event's `data:` lines joined form one signal's JSON. Malformed events are skipped. */
async function readEvents(body: ReadableStream<Uint8Array>, onSignal: (msg: SignalMessage) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
      const event = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = event
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (data === '') continue;
      let msg: SignalMessage;
      try {
        msg = parseSignalJson(data);
      } catch {
        continue;
      }
      onSignal(msg);
    }
  }
}
