/**
 * Bounded clients: each runs one operation at a time (put, get or delete on
 * a small key set, against a random member), with a request timeout, and
 * records every operation with its invoke and completion times and what is
 * known of its outcome. Puts write values unique in the run
 * (`<client>-<n>`), which is what lets the checker tell writes apart.
 *
 * Outcomes, from the client API's contract (apps/cli/src/api-server.ts):
 * - 200 (and a get's 404 ERR_KEY_NOT_FOUND) are answers: `ok`.
 * - Other 4xx are refusals before anything is proposed (bad key or value,
 *   wrong method): `fail`. So is a refused connection: the request never
 *   reached the member.
 * - 5xx (503 ERR_TIMEOUT: "a timed-out write may still commit"; ERR_STOPPED:
 *   the member stopped after it may have proposed), timeouts, resets and
 *   aborts: `unknown`. The API has no "not leader" refusal (followers forward
 *   proposals), so there is no other definite failure.
 */
import { setMaxListeners } from 'node:events';
import * as http from 'node:http';
import { SeededRand } from '@raftwire/core';
import { apiRequest, deadline } from './cluster/api-client.js';
import type { KvOpKind, KvOperation } from './history.js';

export interface WorkloadTarget {
  /** Lane name and API base URL of every member a client may pick. */
  members(): { lane: string; apiUrl: string }[];
  /** Headers for every request (a bearer token, once the API takes one). */
  headers?: Record<string, string>;
}

export interface WorkloadOptions {
  clients: number;
  keys: number;
  /** Client-side timeout of one request, ms. */
  requestTimeoutMs: number;
  seed: number;
  /** ms since the start of the run. */
  now: () => number;
  /** Share of puts and deletes; the rest are gets. */
  putShare?: number;
  deleteShare?: number;
}

export interface WorkloadCounts {
  total: number;
  ok: number;
  fail: number;
  unknown: number;
  inFlight: number;
}

export function keyName(i: number): string {
  return `k${i}`;
}

/** Sends one KV operation and classifies its outcome; fills in `op`. */
export async function runOperation(
  op: KvOperation,
  apiUrl: string,
  signal: AbortSignal,
  now: () => number,
  agent?: http.Agent,
  headers?: Record<string, string>,
): Promise<void> {
  const path = `${apiUrl}/v1/kv/${encodeURIComponent(op.key)}`;
  const method = op.kind === 'put' ? 'PUT' : op.kind === 'get' ? 'GET' : 'DELETE';
  const a = await apiRequest(path, {
    method,
    ...(op.kind === 'put' ? { body: op.value as string } : {}),
    signal,
    ...(agent ? { agent } : {}),
    ...(headers ? { headers } : {}),
  });
  op.complete = now();
  if (a.kind === 'error') {
    op.outcome = a.sent ? 'unknown' : 'fail';
    op.error = a.code;
    return;
  }
  const code = typeof a.body.code === 'string' ? ` ${a.body.code}` : '';
  if (a.status === 200) {
    op.outcome = 'ok';
    if (op.kind === 'get') op.read = typeof a.body.value === 'string' ? a.body.value : null;
    if (op.kind === 'delete') op.existed = a.body.existed === true;
    return;
  }
  if (op.kind === 'get' && a.status === 404 && a.body.code === 'ERR_KEY_NOT_FOUND') {
    op.outcome = 'ok';
    op.read = null;
    return;
  }
  op.outcome = a.status >= 400 && a.status < 500 ? 'fail' : 'unknown';
  op.error = `HTTP ${a.status}${code}`;
}

export class Workload {
  readonly ops: KvOperation[] = [];
  private readonly controller = new AbortController();
  private running: Promise<void>[] = [];

  constructor(
    private readonly target: WorkloadTarget,
    private readonly o: WorkloadOptions,
  ) {}

  start(): void {
    // Each client's operation in flight listens to the stop signal (one listener each, removed
    // when the operation ends): more clients than Node's default 10 is not a leak.
    setMaxListeners(this.o.clients + 10, this.controller.signal);
    this.running = Array.from({ length: this.o.clients }, (_, i) => this.client(i));
  }

  /** Stops every client; operations in flight are aborted and stay `unknown`. */
  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.all(this.running);
  }

  counts(): WorkloadCounts {
    const c = { total: this.ops.length, ok: 0, fail: 0, unknown: 0, inFlight: 0 };
    for (const op of this.ops) {
      if (op.complete === null) c.inFlight++;
      else c[op.outcome]++;
    }
    return c;
  }

  private async client(n: number): Promise<void> {
    const rand = new SeededRand((this.o.seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const putShare = this.o.putShare ?? 0.45;
    const deleteShare = this.o.deleteShare ?? 0.1;
    let seq = 0;
    const name = `c${n}`;
    try {
      while (!this.controller.signal.aborted) {
        const members = this.target.members();
        const m = members[rand.intn(members.length)];
        if (!m) break;
        const r = rand.next();
        const kind: KvOpKind = r < putShare ? 'put' : r < putShare + deleteShare ? 'delete' : 'get';
        const op: KvOperation = {
          id: this.ops.length,
          client: name,
          member: m.lane,
          kind,
          key: keyName(rand.intn(this.o.keys)),
          invoke: this.o.now(),
          complete: null,
          outcome: 'unknown',
        };
        if (kind === 'put') op.value = `${name}-${seq++}`;
        this.ops.push(op);
        const limit = deadline(this.o.requestTimeoutMs, this.controller.signal);
        try {
          await runOperation(op, m.apiUrl, limit.signal, this.o.now, agent, this.target.headers);
        } finally {
          limit.dispose();
        }
        if (this.controller.signal.aborted && op.outcome === 'unknown') op.error = 'aborted at the end of the run';
        // A member that refuses connections is down: do not spin on it.
        if (op.outcome === 'fail') await new Promise((res) => setTimeout(res, 20 + rand.intn(30)));
      }
    } finally {
      agent.destroy();
    }
  }
}
