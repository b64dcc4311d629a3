/**
 * The bounded load generator of `pnpm bench etcd`, and the /proc/<pid>/stat CPU reader.
 * Kept apart from the suite so bench/test/loadgen.test.ts can check it without timing anything.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

/** utime + stime of one process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
export interface ProcCpu {
  utimeTicks: number;
  stimeTicks: number;
}

/**
 * Parses the text of /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself
 * contain spaces and parentheses, so the fields are counted from the last ')'.
 */
export function parseProcStat(text: string): ProcCpu {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new TypeError('not a /proc/<pid>/stat line: no ")" after the command name');
  // After ") " come field 3 (state), 4 (ppid), … ; utime is field 14, stime field 15.
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new TypeError('not a /proc/<pid>/stat line: utime/stime are not numbers');
  }
  return { utimeTicks: utime, stimeTicks: stime };
}

/** Clock ticks per second for /proc times (USER_HZ; 100 on every Linux port that matters). */
export const CLK_TCK = 100;

/** CPU seconds (user + system) used so far by the given processes; a process gone counts 0. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const s = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      ticks += s.utimeTicks + s.stimeTicks;
    } catch {
      // exited
    }
  }
  return ticks / CLK_TCK;
}

/** The p-th percentile (0–100) of `sorted` (ascending), nearest rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export interface LoadOptions {
  /** Concurrent clients, each with one request in flight. */
  concurrency: number;
  /** Stop starting requests after this much wall time. */
  durationMs: number;
  /** And after this many requests in all (the bound: latencies are kept in a fixed array). */
  maxOps: number;
  /** Sends operation `i` from client `client`; resolves when it is acknowledged, rejects on failure. */
  op: (i: number, client: number) => Promise<void>;
  signal?: AbortSignal;
}

export interface LoadResult {
  ops: number;
  errors: number;
  /** First error message seen, for the log. */
  firstError: string | null;
  seconds: number;
  opsPerSecond: number;
  /** Latencies in ms of the successful operations, ascending. */
  latenciesMs: Float64Array;
}

/** Runs `concurrency` closed-loop clients until the time or operation bound is reached. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) throw new RangeError('concurrency must be an integer ≥ 1');
  if (!Number.isInteger(o.maxOps) || o.maxOps < 1) throw new RangeError('maxOps must be an integer ≥ 1');
  const lat = new Float64Array(o.maxOps);
  let next = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | null = null;
  const t0 = performance.now();
  const end = t0 + o.durationMs;
  const client = async (c: number): Promise<void> => {
    while (next < o.maxOps && performance.now() < end && !o.signal?.aborted) {
      const i = next++;
      const s = performance.now();
      try {
        await o.op(i, c);
        lat[ok++] = performance.now() - s;
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, c) => client(c)));
  const seconds = (performance.now() - t0) / 1000;
  const latenciesMs = lat.slice(0, ok).sort();
  return { ops: ok, errors, firstError, seconds, opsPerSecond: ok / seconds, latenciesMs };
}

/** A keep-alive HTTP/1.1 client for one origin: `send` resolves with the status once the body is read. */
export class KeepAliveClient {
  readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(origin: string, maxSockets: number) {
    const u = new URL(origin);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  send(method: string, path: string, body: Uint8Array, contentType: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.host,
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: { 'content-type': contentType, 'content-length': body.byteLength },
        },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => {
            const st = res.statusCode ?? 0;
            if (st >= 200 && st < 300) resolve(st);
            else reject(new Error(`${method} ${path}: HTTP ${st}`));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
